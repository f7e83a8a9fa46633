"""The head registry: every output head of the model, one spec module per head, one line each here.

    category   utterance classification over the run's label set    heads/category.py
    intensity  utterance regression on [0, 1]                         heads/intensity.py
    phoneme    frame-level CTC over the run's phoneme vocabulary      heads/phoneme.py
    gender     utterance classification over labels.GENDERS           heads/gender.py

A spec (`heads.contract.HeadSpec`) says everything the project needs to know about one head: how the
model builds it, its loss, what the eval step outputs for it, its metric function, its report
columns and its prediction fields. The model, losses, eval step, evaluation, metrics, reports,
prediction and export iterate over the registry and never name a head. Adding a head is one spec
module plus one line in `HEAD_MODULES` (docs/howto/add-a-head.md).

This file imports no JAX (configs read `HEAD_NAMES` without it); the spec modules are imported on
first use.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from speecheq_jax.heads.contract import HeadSpec

HEAD_MODULES: dict[str, str] = {
    "category": "speecheq_jax.heads.category",
    "intensity": "speecheq_jax.heads.intensity",
    "phoneme": "speecheq_jax.heads.phoneme",
    "gender": "speecheq_jax.heads.gender",
}
"""Head name -> the module whose `SPEC` defines it. The order is the heads' order everywhere: losses,
the accumulation counts (`train.multitask_loss.TOTALS_KEY` columns), task log-variances, metrics, reports."""

HEAD_NAMES: tuple[str, ...] = tuple(HEAD_MODULES)
"""The built-in heads (configs read it). Code that runs a model reads `head_names()`, which also
sees a head registered later (a spec defined outside the package adds its line to HEAD_MODULES)."""


def head_names() -> tuple[str, ...]:
    """Every registered head, in registry order."""
    return tuple(HEAD_MODULES)


def head_spec(name: str) -> HeadSpec:
    """The spec of head `name`; ValueError naming the registered heads when there is none."""
    if name not in HEAD_MODULES:
        raise ValueError(f"unknown head {name!r}; registered heads: {tuple(HEAD_MODULES)}")
    return _load(name, HEAD_MODULES[name])


@functools.lru_cache(maxsize=None)
def _load(name: str, module: str) -> HeadSpec:
    spec = importlib.import_module(module).SPEC
    if spec.name != name:
        raise ValueError(f"{module}.SPEC is named {spec.name!r} but registered as {name!r}")
    return spec


def head_specs(names: Iterable[str] | None = None) -> tuple[HeadSpec, ...]:
    """Specs of `names` (default: every registered head), in registry order."""
    wanted = set(HEAD_MODULES if names is None else names)
    for name in wanted - set(HEAD_MODULES):
        head_spec(name)  # raises, naming the unknown head
    return tuple(head_spec(name) for name in HEAD_MODULES if name in wanted)
