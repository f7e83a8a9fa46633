"""Greedy CTC decoding and token edit distance, for the phoneme error rate.

The phoneme head emits one distribution per encoder frame (after the front
end's 4x time reduction, hence T' frames). Greedy decoding takes the argmax
per frame, collapses runs of the same id and drops the blank; the phoneme error
rate then counts the edits between that sequence and the reference. Both run on
the host in numpy, after the jitted forward pass, so that evaluation never
compiles per sequence length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ctc_greedy_decode(frame_ids: np.ndarray, out_mask: np.ndarray, blank: int = 0) -> list[list[int]]:
    """Best-path CTC decoding of per-frame argmax ids.

    Only valid frames take part (padding is the masked suffix of each row), so
    a repeat is collapsed only between consecutive valid frames, and a blank
    between two equal ids keeps both (a a _ a -> a a).

    Args:
      frame_ids: int [B, T'] argmax token id per output frame.
      out_mask: bool [B, T'] True on valid output frames.
      blank: id of the CTC blank.
    Returns:
      B lists of token ids, blanks and repeats removed.
    """
    frame_ids = np.asarray(frame_ids)
    out_mask = np.asarray(out_mask, dtype=bool)
    if frame_ids.ndim != 2 or frame_ids.shape != out_mask.shape:
        raise ValueError(
            f"ctc_greedy_decode needs frame_ids and out_mask of the same [B, T'] shape, "
            f"got {list(frame_ids.shape)} and {list(out_mask.shape)}"
        )
    decoded = []
    for ids, valid in zip(frame_ids, out_mask):
        ids = ids[valid]
        starts_run = np.ones(ids.shape, dtype=bool)
        starts_run[1:] = ids[1:] != ids[:-1]
        decoded.append([int(t) for t in ids[starts_run & (ids != blank)]])
    return decoded


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions each cost 1).

    One numpy pass per token of `a`: a row of the dynamic programme is first
    filled with the substitution/deletion moves, then the insertion moves
    (row[j] = min over i <= j of tmp[i] + j - i) are one running minimum, so the
    cost is O(len(a)) vectorised steps instead of O(len(a) * len(b)) Python steps.
    """
    a_arr = np.asarray(a, dtype=np.int64).reshape(-1)
    b_arr = np.asarray(b, dtype=np.int64).reshape(-1)
    if a_arr.size == 0 or b_arr.size == 0:
        return int(max(a_arr.size, b_arr.size))
    offsets = np.arange(b_arr.size + 1, dtype=np.int64)
    row = offsets.copy()
    for i, token in enumerate(a_arr, start=1):
        moves = np.empty_like(row)
        moves[0] = i
        moves[1:] = np.minimum(row[:-1] + (b_arr != token), row[1:] + 1)
        row = np.minimum.accumulate(moves - offsets) + offsets
    return int(row[-1])
