"""THE list of corpora: one line per corpus module. A new corpus is its module plus one line here.

Everything that takes a corpus name (configs, `read_corpus`, `prepare`, the
CLIs, metrics) looks it up here; nothing below this module needs it, since a
`CorpusData` carries its spec.
"""

from __future__ import annotations

from speecheq_jax.corpora import casia, cremad, emobox, esd, iemocap, manifest, ravdess, seqd_synth
from speecheq_jax.corpora.corpus_spec import CorpusSpec
SPECS: dict[str, CorpusSpec] = {spec.name: spec for spec in (
    iemocap.SPEC,
    casia.SPEC,
    esd.SPEC,
    ravdess.SPEC,
    cremad.SPEC,
    manifest.SPEC,
    seqd_synth.SPEC,
    emobox.SPEC,
)}


def names() -> tuple[str, ...]:
    """The registered corpus names, in registration order."""
    return tuple(SPECS)


def get(name: str) -> CorpusSpec:
    """The spec of corpus `name`; ValueError naming the known corpora otherwise."""
    if name not in SPECS:
        raise ValueError(f"unknown corpus {name!r}; known: {names()}")
    return SPECS[name]


def register(spec: CorpusSpec) -> None:
    """Adds a corpus defined outside this package (e.g. a user's or a test's module); names are unique."""
    if spec.name in SPECS:
        raise ValueError(f"corpus {spec.name!r} is already registered")
    SPECS[spec.name] = spec
