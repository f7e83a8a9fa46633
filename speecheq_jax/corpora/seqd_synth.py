"""SEQD-synth: the corpus that generates itself (`synth/generate.py`), and its reader.

The generator writes <root>/manifest.jsonl (Utterance records) with unified
labels, the phonemes espeak-ng spoke, and a fixed speaker-disjoint split in
`group` ('train'/'valid'/'test', the 'fixed' protocol, a run's default). Its
cross-validation (`--mode crossval`) is 'speaker_independent': 5 speaker folds,
every speaker a test speaker exactly once (docs/protocols.md). Reading still passes
every record through the label rules, so a run's label set and drop/mask
choices apply here as for any corpus. Preparation needs no root: the spec's
`generate` writes the corpus first (config.data.synth: num, seed, langs).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from speecheq_jax import labels
from speecheq_jax.corpora import manifest, protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_LINE, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, require_root,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import UnusableFileError
from speecheq_jax.synth import generate as generator
from speecheq_jax.synth.voices import LEVELS

SPLITS: tuple[str, ...] = protocols.PARTS
MANIFEST = generator.MANIFEST
SYNTH_DEFAULTS: dict[str, Any] = {"num": 1000, "seed": 0, "langs": list(generator.LANGS)}
"""Generation parameters a preparation without `synth` (or with some left out) uses."""
LAYOUT = f"<root>/{MANIFEST} written by the SEQD-synth generator, audio paths relative to <root>"


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads <root>/manifest.jsonl; a record whose group is not one of SPLITS is excluded (BAD_LINE)."""
    root = require_root(root, generator.CORPUS, LAYOUT)
    path = root / MANIFEST
    if not path.is_file():
        raise CorpusLayoutError(f"{root}: no {MANIFEST}; expected {LAYOUT}")
    excluded = Exclusions(options.strict)
    rows = manifest.read_rows(path, excluded)
    raws = [raw for raw in (excluded.attempt(_record, row, source, root) for source, row in rows) if raw]
    return unify(SPEC, root, raws, options, excluded)


def _record(row: dict[str, object], source: str, root: Path) -> RawUtterance:
    raw = manifest.raw_from_row(row, source, root)
    if raw.group not in SPLITS:
        raise UnusableFileError(source, BAD_LINE,
                                f"group {raw.group!r}; SEQD-synth groups are the fixed splits {SPLITS}")
    return raw


def generate(root: Path, params: Mapping[str, Any]) -> None:
    """Writes the corpus into `root` unless it is already complete; `params`: every SYNTH_DEFAULTS key."""
    generator.generate(root, params["num"], seed=params["seed"], langs=tuple(params["langs"]))


SPEC = CorpusSpec(
    name=generator.CORPUS, title="SEQD-synth", read=read, layout=LAYOUT, protocols=(protocols.FIXED, protocols.SPEAKER_INDEPENDENT),
    generate=generate,
    generate_defaults=SYNTH_DEFAULTS,
    labels=labels.CorpusLabels(
        categories={name: name for name in labels.CATEGORIES},
        intensity_scale={str(level): level for level in LEVELS},
    ),
)
