"""Length bucketing: few static batch shapes, little padding, fully deterministic.

Grain has no bucketing op, so batches are planned on record lengths alone
(known from the dataset metadata, no record read): a shuffled stream is cut
into windows of `window` examples, each window is sorted by length and cut
into batches, and each batch is padded to the smallest bucket that holds it.
The step then compiles at most once per bucket.

An example's bucket T only has to hold its frames. Its phonemes are a CTC
target over its OWN encoder frames (ceil(num_frames / 4) after the front
end's 4x subsampling), not over the bucket's padding: a sequence that cannot
be aligned there (`ctc_alignable`) is masked by the pipeline, never padded
into a larger bucket. Every alignable sequence then fits the Batch's phoneme
width T // 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SUBSAMPLING = 4


def encoder_frames(num_frames: np.ndarray | int) -> np.ndarray:
    """Encoder (CTC output) frames of utterances of `num_frames` log-mel frames: ceil(n / 4)."""
    return -(-np.asarray(num_frames) // SUBSAMPLING)


def ctc_alignable(phonemes: np.ndarray, num_frames: int) -> bool:
    """Whether a CTC path for `phonemes` [L] exists in the encoder frames of `num_frames` log-mel frames.

    CTC emits one frame per token plus a blank between two equal adjacent
    tokens, so it needs L + (number of adjacent repeats) frames. An empty
    sequence is no target at all (False).
    """
    phonemes = np.asarray(phonemes)
    repeats = int(np.sum(phonemes[1:] == phonemes[:-1]))
    return 0 < phonemes.size and phonemes.size + repeats <= int(encoder_frames(num_frames))


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


def windowed_batches(order: np.ndarray, lengths: np.ndarray, batch_size: int, window: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Cuts a shuffled order into batches of similar lengths.

    Args:
      order: int [N], a shuffled order of example positions.
      lengths: int [M], frames per position (indexed by `order`).
      batch_size: examples per batch; a trailing partial batch is dropped.
      window: examples sorted together (rounded up to whole batches).
      rng: shuffles the batch order inside each window, so lengths do not
        rise steadily within a window.
    Returns:
      list of int [batch_size] arrays of positions.
    """
    window = max(window // batch_size, 1) * batch_size
    usable = len(order) // batch_size * batch_size
    batches: list[np.ndarray] = []
    for start in range(0, usable, window):
        members = order[start : min(start + window, usable)]
        members = members[np.argsort(lengths[members], kind="stable")]
        chunk = [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
        batches.extend(chunk[i] for i in rng.permutation(len(chunk)))
    return batches


def padding_efficiency(real_frames: int, padded_frames: int) -> float:
    """Real frames / padded frames (1.0 = no padding)."""
    return real_frames / padded_frames if padded_frames else 1.0
