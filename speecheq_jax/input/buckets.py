"""Batch plans over record lengths: few static batch shapes, little padding, fully deterministic.

Grain has no bucketing op, so batches are planned on record lengths alone
(known from the dataset metadata, no record read), in pure numpy. Training
(`window_plan`): a window of a shuffled stream is sorted by length and cut
into batches, each padded to the smallest bucket that holds it. Evaluation
(`eval_plan`): every example once, sorted by length. The step then compiles at
most once per bucket.

An example's bucket T only has to hold its frames. Its phonemes are a CTC
target over its OWN encoder frames (ceil(num_frames / 4) after the front
end's 4x subsampling), not over the bucket's padding: a sequence that cannot
be aligned there (`heads.phoneme.ctc_alignable`) is masked by the pipeline, never padded
into a larger bucket. Every alignable sequence then fits the Batch's phoneme
width T // 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


def bucket_for(length: int, buckets: Sequence[int]) -> int | None:
    """Smallest bucket >= length, or None when the largest is too small."""
    for bucket in sorted(buckets):
        if length <= bucket:
            return bucket
    return None


def bucket_or_extend(length: int, buckets: Sequence[int]) -> int:
    """Like `bucket_for`, but beyond the largest bucket rounds up to a multiple of the smallest.

    Evaluation never drops an example: it pays a compile for an extra shape instead.
    """
    bucket = bucket_for(length, buckets)
    step = min(buckets)
    return bucket if bucket is not None else -(-length // step) * step


class BatchPlan(NamedTuple):
    """One global batch, planned on indexes: the frames it is padded to and the examples it holds.

    Attributes:
      bucket: frames T of the batch (every member's frames fit).
      positions: int64 [B] positions into the split's `Entries`; -1 = padding row
        (only at the end, only in evaluation).
    """

    bucket: int
    positions: np.ndarray


def window_plan(window: np.ndarray, frames: np.ndarray, batch_size: int, buckets: Sequence[int],
                rng: np.random.Generator) -> list[BatchPlan]:
    """Cuts one window of a shuffled stream into batches of similar lengths (training).

    Args:
      window: int [W] example positions, W a multiple of `batch_size`; every
        member's frames fit the largest bucket.
      frames: int [N] frames per position (indexed by `window`).
      batch_size: examples per batch (global).
      buckets: the frame lengths batches are padded to.
      rng: shuffles the batch order, so lengths do not rise steadily within a window.
    Returns:
      W // batch_size plans, each padded to the smallest bucket that holds it.
    """
    if len(window) % batch_size:
        raise ValueError(f"a window of {len(window)} examples is not a whole number of batches of {batch_size}")
    members = window[np.argsort(frames[window], kind="stable")]
    chunks = [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
    return [BatchPlan(bucket_for(int(frames[chunks[i]].max()), buckets), chunks[i])
            for i in rng.permutation(len(chunks))]


def eval_plan(frames: np.ndarray, batch_size: int, buckets: Sequence[int]) -> list[BatchPlan]:
    """Every example once, sorted by length, the last batch filled with padding rows (evaluation).

    Args:
      frames: int [N] frames per example position.
    Returns:
      ceil(N / batch_size) plans; a batch longer than the largest bucket is
      padded to a multiple of the smallest (`bucket_or_extend`), never dropped.
    """
    order = np.argsort(frames, kind="stable")
    plans = []
    for start in range(0, len(order), batch_size):
        members = order[start : start + batch_size]
        positions = np.full(batch_size, -1, np.int64)
        positions[: len(members)] = members
        plans.append(BatchPlan(bucket_or_extend(int(frames[members].max()), buckets), positions))
    return plans


def padding_efficiency(real_frames: int, padded_frames: int) -> float:
    """Real frames / padded frames (1.0 = no padding)."""
    return real_frames / padded_frames if padded_frames else 1.0
