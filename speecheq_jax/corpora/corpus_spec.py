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
      options: the corpus's own label options (`labels.CorpusOption`: name, default, choices),
        e.g. IEMOCAP's `iemocap_exc`; its reader and its `labels.option_drops` read them from
        the resolved `LabelOptions.corpus`.
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
    options: tuple[labels.CorpusOption, ...] = ()

    def label_option_names(self) -> tuple[str, ...]:
        """The label options that change this corpus's prepared records (so its dataset's identity)."""
        return ("label_set", "outside", *(option.name for option in self.options))

    def resolve_label_options(self, options: labels.LabelOptions, *, strict: bool = False) -> labels.LabelOptions:
        """`options` for this corpus: its own options with their defaults filled in, values checked.

        Another corpus's options (run-wide `config.data.label_options` serve every corpus) are
        dropped, or with `strict` (a corpus entry's own options) a ValueError names them.
        """
        given = dict(options.corpus)
        declared = {option.name: option for option in self.options}
        foreign = sorted(set(given) - set(declared))
        if strict and foreign:
            raise ValueError(f"label option(s) {foreign} do not apply to {self.title}; it reads "
                             f"{list(self.label_option_names())}")
        values = {}
        for name, option in declared.items():
            values[name] = given.get(name, option.default)
            if values[name] not in option.choices:
                raise ValueError(f"{self.title} label option {name}={values[name]!r}; expected one of "
                                 f"{option.choices} ({option.doc})")
        return dataclasses.replace(options, corpus=tuple(sorted(values.items())))

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
