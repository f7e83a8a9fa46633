"""THE list of corpora: one line per corpus module. A new corpus is its module plus one line here.

Everything that takes a corpus name (configs, `read_corpus`, `prepare`, the
CLIs, metrics) looks it up here; nothing below this module needs it, since a
`CorpusData` carries its spec. The list names modules, not specs, and a spec is
imported on first use, so a config file can list the corpora without importing
any reader (or the SEQD-synth generator).
"""

from __future__ import annotations

import importlib

from speecheq_jax.corpora.corpus_spec import CorpusSpec

MODULES: dict[str, str] = {
    "iemocap": "speecheq_jax.corpora.iemocap",
    "casia": "speecheq_jax.corpora.casia",
    "esd": "speecheq_jax.corpora.esd",
    "ravdess": "speecheq_jax.corpora.ravdess",
    "cremad": "speecheq_jax.corpora.cremad",
    "manifest": "speecheq_jax.corpora.manifest",
    "seqd_synth": "speecheq_jax.corpora.seqd_synth",
    "emobox": "speecheq_jax.corpora.emobox",
}
"""Corpus name -> the module whose `SPEC` defines it, in registration order."""
GENERATED: tuple[str, ...] = ("seqd_synth",)
"""The corpora of MODULES that generate themselves (their spec's `generate`): no root to give."""

SPECS: dict[str, CorpusSpec] = {}
"""The specs loaded so far, and those registered from outside the package (`register`)."""


def names() -> tuple[str, ...]:
    """The registered corpus names, in registration order."""
    return tuple(dict.fromkeys([*MODULES, *SPECS]))


def get(name: str) -> CorpusSpec:
    """The spec of corpus `name`; ValueError naming the known corpora otherwise."""
    if name not in SPECS:
        if name not in MODULES:
            raise ValueError(f"unknown corpus {name!r}; known: {names()}")
        spec = importlib.import_module(MODULES[name]).SPEC
        if spec.name != name:
            raise ValueError(f"{MODULES[name]}.SPEC is named {spec.name!r} but registered as {name!r}")
        SPECS[name] = spec
    return SPECS[name]


def register(spec: CorpusSpec) -> None:
    """Adds a corpus defined outside this package (e.g. a user's or a test's module); names are unique."""
    if spec.name in names():
        raise ValueError(f"corpus {spec.name!r} is already registered")
    SPECS[spec.name] = spec
