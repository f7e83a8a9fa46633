"""THE batch assembler: examples -> one padded Batch (CMVN, padding to the bucket, row filling, masks), on either
feature route (`frames.FeatureLayout`: log-mel [T, 80] or SSL states [T, K, D]).

Training, evaluation and prediction all build their batches here, so a
log-mel is normalised, padded and masked the same way whether it came from a
prepared dataset or from raw audio, and the padding-exact masking of the Batch
contract (`input/batch.py`: zeros and False masks on every padded frame, token
and row) holds by construction. Numpy only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speecheq_jax.frames import LOGMEL, FeatureLayout
from speecheq_jax.heads import head_specs
from speecheq_jax.input import batch as batch_lib


@dataclasses.dataclass(frozen=True)
class Row:
    """One example, ready to pad.

    Attributes:
      features: [T, F] un-normalised log-mel (float16 as stored, float32 from raw audio), or SSL states
        [T, K, D].
      mean, std: float32 [F] the CMVN statistics that apply to it (0 and 1 on the SSL route: none).
      labels: head label key (`HeadSpec.label`) -> its value in run ids (a category id in the run's
        label set, an intensity on [0, 1], a gender id, int32 [L] phoneme ids 1..V, ...); a head
        missing here, -1 (`labels.MISSING`) or an empty sequence is absent and masked.
      corpus_id: index into the run's corpora.
      index: position in the split's host table (-1 where there is none).
    """

    features: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    labels: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    corpus_id: int = 0
    index: int = -1


def assemble(rows: Sequence[Row], batch_size: int, frames: int, layout: FeatureLayout = LOGMEL) -> dict[str, np.ndarray]:
    """A Batch of `batch_size` rows padded to `frames`: `rows` first, padding rows after.

    Args:
      rows: at most `batch_size` examples, each at most `frames` long with at
        most frames // subsampling phonemes (the route's).
      batch_size: B.
      frames: T, the bucket.
      layout: the feature route and per-frame shape.
    Returns:
      the Batch (`input/batch.py`): features [B, T, F...] under the route's key, CMVN-normalised, masks
      True exactly on real frames, tokens and labels; padding rows have
      `example_mask` False and `index` -1.
    """
    if len(rows) > batch_size:
        raise ValueError(f"{len(rows)} rows do not fit a batch of {batch_size}")
    out = batch_lib.zeros(batch_size, frames, frames // layout.route.subsampling, layout)
    out["index"][:] = -1
    for position, row in enumerate(rows):
        _fill(out, layout.route.key, position, row)
    return out


def _fill(out: dict[str, np.ndarray], key: str, position: int, row: Row) -> None:
    length = len(row.features)
    if length > out[key].shape[1]:
        raise ValueError(f"row {position}: {length} frames do not fit {out[key].shape[1]} frames")
    out[key][position, :length] = (row.features.astype(np.float32) - row.mean) / row.std
    out["frame_mask"][position, :length] = True
    for spec in head_specs():
        value = row.labels.get(spec.label, spec.data.none())
        if spec.data.sequence:
            slots = out[spec.label].shape[1]
            if len(value) > slots:
                raise ValueError(f"row {position}: {len(value)} {spec.label} do not fit {slots} slots")
            out[spec.label][position, : len(value)] = value
            out[spec.label_mask][position, : len(value)] = True
        else:
            out[spec.label][position] = max(value, 0)
            out[spec.label_mask][position] = value >= 0
    out["corpus_id"][position] = row.corpus_id
    out["example_mask"][position] = True
    out["index"][position] = row.index
