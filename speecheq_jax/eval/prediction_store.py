"""A `Predictions` record on disk (one .npz), so that folds evaluated apart can be pooled later.

Cross-validation runs each fold as its own run, possibly on another machine, and pools the test
predictions of every finished fold afterwards (eval/crossval_report.py). The file holds, for N
examples: `corpus` [N], `speaker` [N], the run's `categories` (the label set category ids index),
and per head `truth/<head>` and `predicted/<head>` as stored by `Predictions`; a CTC head's N id
sequences are stored flat (`.../ids`) with their lengths (`.../lengths`). It is written to a
temporary name and renamed (in a bucket: uploaded whole), so a reader never sees half a file.
"""

from __future__ import annotations

import io

import numpy as np

from speecheq_jax import storage
from speecheq_jax.eval.predictions import Predictions
from speecheq_jax.heads.contract import HostValues


def save_predictions(path: storage.PathLike, pred: Predictions, categories: tuple[str, ...]) -> None:
    """Writes `pred` and its label set to `path` (.npz), atomically."""
    arrays = {"corpus": pred.corpus, "speaker": pred.speaker, "categories": np.asarray(categories, dtype=str)}
    for side, values in (("truth", pred.truth), ("predicted", pred.predicted)):
        for head, value in values.items():
            arrays.update(_flat(f"{side}/{head}", value))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    storage.write_atomic(path, buffer.getvalue(), partial_suffix=".partial")


def load_predictions(path: storage.PathLike) -> tuple[Predictions, tuple[str, ...]]:
    """(Predictions, categories) saved by `save_predictions`."""
    with storage.as_path(path).open("rb") as f, np.load(f) as data:
        arrays = {key: data[key] for key in data.files}
    sides: dict[str, dict[str, HostValues]] = {"truth": {}, "predicted": {}}
    for key in arrays:
        side, _, rest = key.partition("/")
        if side in sides and not rest.endswith("/lengths"):
            head = rest.removesuffix("/ids")
            sides[side][head] = _unflat(arrays, f"{side}/{head}")
    pred = Predictions(corpus=arrays["corpus"], speaker=arrays["speaker"], **sides)
    return pred, tuple(arrays["categories"].tolist())


def _flat(key: str, value: HostValues) -> dict[str, np.ndarray]:
    if not isinstance(value, list):
        return {key: value}
    lengths = np.array([len(seq) for seq in value], dtype=np.int64)
    ids = np.concatenate(value) if value else np.zeros(0, np.int64)
    return {f"{key}/ids": ids.astype(np.int64), f"{key}/lengths": lengths}


def _unflat(arrays: dict[str, np.ndarray], key: str) -> HostValues:
    if key in arrays:
        return arrays[key]
    ends = np.cumsum(arrays[f"{key}/lengths"])
    return list(np.split(arrays[f"{key}/ids"], ends[:-1])) if ends.size else []
