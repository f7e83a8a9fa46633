"""THE batch assembler: examples -> one padded Batch (CMVN, padding to the bucket, row filling, masks).

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

from speecheq_jax.frames import SUBSAMPLING
from speecheq_jax.heads import head_specs
from speecheq_jax.input import batch as batch_lib


@dataclasses.dataclass(frozen=True)
class Row:
    """One example, ready to pad.

    Attributes:
      logmel: [T, F] un-normalised log-mel (float16 as stored, float32 from raw audio).
      mean, std: float32 [F] the CMVN statistics that apply to it.
      labels: head label key (`HeadSpec.label`) -> its value in run ids (a category id in the run's
        label set, an intensity on [0, 1], a gender id, int32 [L] phoneme ids 1..V, ...); a head
        missing here, -1 (`labels.MISSING`) or an empty sequence is absent and masked.
      corpus_id: index into the run's corpora.
      index: position in the split's host table (-1 where there is none).
    """

    logmel: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    labels: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    corpus_id: int = 0
    index: int = -1


def assemble(rows: Sequence[Row], batch_size: int, frames: int) -> dict[str, np.ndarray]:
    """A Batch of `batch_size` rows padded to `frames`: `rows` first, padding rows after.

    Args:
      rows: at most `batch_size` examples, each at most `frames` long with at
        most frames // SUBSAMPLING phonemes.
      batch_size: B.
      frames: T, the bucket.
    Returns:
      the Batch (`input/batch.py`): logmel [B, T, F] CMVN-normalised, masks
      True exactly on real frames, tokens and labels; padding rows have
      `example_mask` False and `index` -1.
    """
    if len(rows) > batch_size:
        raise ValueError(f"{len(rows)} rows do not fit a batch of {batch_size}")
    out = batch_lib.zeros(batch_size, frames, frames // SUBSAMPLING)
    out["index"][:] = -1
    for position, row in enumerate(rows):
        _fill(out, position, row)
    return out


def _fill(out: dict[str, np.ndarray], position: int, row: Row) -> None:
    length = len(row.logmel)
    if length > out["logmel"].shape[1]:
        raise ValueError(f"row {position}: {length} frames do not fit {out['logmel'].shape[1]} frames")
    out["logmel"][position, :length] = (row.logmel.astype(np.float32) - row.mean) / row.std
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
