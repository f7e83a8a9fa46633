"""`CorpusSpec`: everything the package knows about one corpus, declared in that corpus's module.

A corpus module (e.g. `cremad.py`) holds its reader and ends with one
`SPEC = CorpusSpec(...)`; `registry.py` lists the specs. Everything that
differs between corpora is a field here, so nothing else in the package names
a corpus: label unification reads `labels`, the folds read `protocols` and
`units_by_group`, the TFDS builder reads `read`, `generate` and `layout`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from speecheq_jax import labels
from speecheq_jax.corpora.corpus_data import CorpusData, ReadOptions
from speecheq_jax.corpora.protocols import Protocol


@dataclasses.dataclass(frozen=True, eq=False)
class CorpusSpec:
    """One corpus: how to read it, how its labels map, how it is cut into folds.

    Compared and hashed by identity (one object per registered corpus).

    Attributes:
      name: the corpus name in configs, in `Utterance.corpus` and in the
        prepared dataset's directory `<data_dir>/<name>/`.
      title: the name people write, e.g. 'CREMA-D'.
      read: (root, ReadOptions) -> CorpusData; parses the layout and calls
        `unify.unify(SPEC, ...)`.
      labels: native category codes -> unified categories, the intensity scale.
      protocols: evaluation protocols; the first one a copy supports is the default.
      layout: the expected layout under the root, for error messages and
        the dataset description.
      units_by_group: a storage unit is speaker x group instead of the speaker
        (a protocol splits every speaker by group, as ESD's 'official').
      generate: None when the user gives the corpus's root; else
        (root, parameters) -> None writes the corpus into root (idempotent),
        and the config's `synth` dict overrides its parameters.
      generate_defaults: the generator's parameters and their defaults (the keys it accepts).
      reads_label_options: `LabelOptions` fields the reader itself reads (besides those
        `labels.option_drops` names and the run-wide label_set / outside).
    """

    name: str
    title: str
    read: Callable[[Path, ReadOptions], CorpusData]
    labels: labels.CorpusLabels
    protocols: tuple[Protocol, ...]
    layout: str
    units_by_group: bool = False
    generate: Callable[[Path, Mapping[str, Any]], None] | None = None
    generate_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    reads_label_options: tuple[str, ...] = ()

    def label_option_names(self) -> tuple[str, ...]:
        """The `LabelOptions` fields that change this corpus's prepared records (so its dataset's identity)."""
        drops = tuple(drop.option for drop in self.labels.option_drops)
        return tuple(dict.fromkeys(("label_set", "outside", *drops, *self.reads_label_options)))

    def generate_parameters(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """`generate_defaults` with the config's overrides; an unknown key is a ValueError naming the known ones."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.generate_defaults))
        if unknown:
            raise ValueError(f"{self.name}: unknown generation parameter(s) {unknown}; known: "
                             f"{sorted(self.generate_defaults)}")
        return {**self.generate_defaults, **overrides}

    @property
    def needs_root(self) -> bool:
        """Whether preparation needs the user's copy (`root`): every corpus that does not generate itself."""
        return self.generate is None
