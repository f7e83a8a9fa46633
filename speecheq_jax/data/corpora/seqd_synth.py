"""SEQD-synth reader: the generator's <root>/manifest.jsonl (Utterance records).

The generator writes unified labels, the phonemes espeak-ng spoke, and a fixed
speaker-disjoint split in `group` ('train'/'valid'/'test', the 'fixed'
protocol). Reading still passes every record through labels.py, so a run's
label set and drop/mask choices apply here as for any corpus.
"""

from __future__ import annotations

from pathlib import Path

from speecheq_jax.data.corpora import manifest
from speecheq_jax.data.corpora.base import CorpusData, CorpusLayoutError, ReadOptions, require_root, unify

SPLITS: tuple[str, ...] = ("train", "valid", "test")
MANIFEST = "manifest.jsonl"
LAYOUT = f"<root>/{MANIFEST} written by the SEQD-synth generator, audio paths relative to <root>"


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads <root>/manifest.jsonl; every record's group must be one of SPLITS."""
    root = require_root(root, "seqd_synth", LAYOUT)
    path = root / MANIFEST
    if not path.is_file():
        raise CorpusLayoutError(f"{root}: no {MANIFEST}; expected {LAYOUT}")
    raws = []
    for source, row in manifest.read_rows(path):
        raw = manifest.raw_from_row(row, source, root)
        if raw.group not in SPLITS:
            raise ValueError(f"{source}: group {raw.group!r}; SEQD-synth groups are the fixed splits {SPLITS}")
        raws.append(raw)
    return unify("seqd_synth", root, raws, options)
