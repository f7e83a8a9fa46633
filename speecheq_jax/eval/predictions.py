"""`Predictions`: the host-side record of one evaluation, truth and predictions per head.

The evaluation loop (eval/evaluator.py) builds it from the eval step's outputs with padding
removed; the metrics (eval/metrics.py) read it. Values per head are those of the head's kind
(heads/contract.py): utterance truth [N] (-1 = none), classification probabilities [N, K] (or logits:
only the argmax is used), regression values [N], CTC id sequences (empty truth = none).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from speecheq_jax.heads import head_spec
from speecheq_jax.heads.contract import HostValues, Kind

_TRUTH_ARRAYS: dict[Kind, tuple[type, int]] = {
    Kind.UTTERANCE_CLASSIFICATION: (np.int64, 1),
    Kind.UTTERANCE_REGRESSION: (np.float64, 1),
}
_PREDICTION_ARRAYS: dict[Kind, tuple[type, int]] = {
    Kind.UTTERANCE_CLASSIFICATION: (np.float64, 2),
    Kind.UTTERANCE_REGRESSION: (np.float64, 1),
}


@dataclasses.dataclass(kw_only=True)
class Predictions:
    """Truth and predictions over N evaluated examples, as host numpy arrays.

    Attributes:
      corpus: str [N] corpus name of each example.
      speaker: str [N] speaker id.
      truth: head -> its truth, for every head whose labels the batches carry.
      predicted: head -> its predictions, for the heads the model has.
    """

    corpus: np.ndarray
    speaker: np.ndarray
    truth: dict[str, HostValues]
    predicted: dict[str, HostValues] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.corpus)
        self.corpus = _checked_array("corpus", self.corpus, str, 1, n)
        self.speaker = _checked_array("speaker", self.speaker, str, 1, n)
        self.truth = {name: _checked(f"truth[{name!r}]", values, _TRUTH_ARRAYS, name, n)
                      for name, values in self.truth.items()}
        self.predicted = {name: _checked(f"predicted[{name!r}]", values, _PREDICTION_ARRAYS, name, n)
                          for name, values in self.predicted.items()}
        for name, values in self.truth.items():
            bad = head_spec(name).bad_truth(values)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                raise ValueError(f"Predictions.truth[{name!r}][{first}] = {values[first]} is out of range (-1 = none)")

    @property
    def size(self) -> int:
        """Number of examples N."""
        return len(self.corpus)

    def take(self, rows: np.ndarray) -> Predictions:
        """The examples at int positions `rows`, in that order."""
        return Predictions(corpus=self.corpus[rows], speaker=self.speaker[rows],
                           truth={name: take_rows(v, rows) for name, v in self.truth.items()},
                           predicted={name: take_rows(v, rows) for name, v in self.predicted.items()})

    def select(self, keep: np.ndarray) -> Predictions:
        """The examples where the bool [N] mask `keep` is True."""
        return self.take(np.flatnonzero(np.asarray(keep, dtype=bool)))


def take_rows(values: HostValues, rows: np.ndarray) -> HostValues:
    """Rows `rows` of one head's values: an array [N, ...] or a list of N sequences."""
    return [values[i] for i in rows] if isinstance(values, list) else values[rows]


def _checked(name: str, values: Any, arrays: Mapping[Kind, tuple[type, int]], head: str, n: int) -> HostValues:
    kind = head_spec(head).kind
    if kind in arrays:
        return _checked_array(name, values, *arrays[kind], n)
    if len(values) != n:
        raise ValueError(f"Predictions.{name} has {len(values)} sequences, expected N={n}")
    return [np.asarray(seq, dtype=np.int64).reshape(-1) for seq in values]


def _checked_array(name: str, value: Any, dtype: type, ndim: int, n: int) -> np.ndarray:
    """`value` as an array of `dtype`, with `ndim` dims, N rows and finite numbers."""
    array = np.asarray(value).astype(dtype)
    if array.ndim != ndim or array.shape[0] != n:
        raise ValueError(f"Predictions.{name} has shape {list(array.shape)}, expected {ndim} dims with N={n} rows")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad_rows = np.flatnonzero(~np.isfinite(array).reshape(n, -1).all(axis=1))
        raise ValueError(f"Predictions.{name} has non-finite values in rows {bad_rows[:10].tolist()}")
    return array
