"""SEQD-synth reader: the generator's <root>/manifest.jsonl (Utterance records).

The generator writes unified labels, the phonemes espeak-ng spoke, and a fixed
speaker-disjoint split in `group` ('train'/'valid'/'test', the 'fixed'
protocol). Reading still passes every record through labels.py, so a run's
label set and drop/mask choices apply here as for any corpus.
"""

from __future__ import annotations

from pathlib import Path

from speecheq_jax.data.corpora import manifest
from speecheq_jax.data.corpora.base import (
    BAD_LINE, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, require_root, unify,
)
from speecheq_jax.data.errors import UnusableFileError

SPLITS: tuple[str, ...] = ("train", "valid", "test")
MANIFEST = "manifest.jsonl"
LAYOUT = f"<root>/{MANIFEST} written by the SEQD-synth generator, audio paths relative to <root>"


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads <root>/manifest.jsonl; a record whose group is not one of SPLITS is excluded (BAD_LINE)."""
    root = require_root(root, "seqd_synth", LAYOUT)
    path = root / MANIFEST
    if not path.is_file():
        raise CorpusLayoutError(f"{root}: no {MANIFEST}; expected {LAYOUT}")
    excluded = Exclusions(options.strict)
    rows = manifest.read_rows(path, excluded)
    raws = [raw for raw in (excluded.attempt(_record, row, source, root) for source, row in rows) if raw]
    return unify("seqd_synth", root, raws, options, excluded)


def _record(row: dict[str, object], source: str, root: Path) -> RawUtterance:
    raw = manifest.raw_from_row(row, source, root)
    if raw.group not in SPLITS:
        raise UnusableFileError(source, BAD_LINE,
                                f"group {raw.group!r}; SEQD-synth groups are the fixed splits {SPLITS}")
    return raw
