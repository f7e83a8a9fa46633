"""Greedy CTC decoding and the edit distance behind the phoneme error rate."""

import functools

import numpy as np
import pytest

from speecheq_jax.heads.ctc_decode import ctc_greedy_decode, edit_distance

pytestmark = pytest.mark.unit


def test_ctc_greedy_decode_collapses_repeats_drops_blanks_and_padding():
    frame_ids = np.array([[1, 1, 0, 1, 2, 2, 0, 3], [4, 0, 4, 4, 0, 0, 5, 5]])
    out_mask = np.array([[True] * 8, [True] * 6 + [False] * 2])
    assert ctc_greedy_decode(frame_ids, out_mask) == [[1, 1, 2, 3], [4, 4]]
    assert ctc_greedy_decode(frame_ids, out_mask, blank=4) == [[1, 0, 1, 2, 0, 3], [0, 0]]
    with pytest.raises(ValueError, match="same"):
        ctc_greedy_decode(frame_ids, out_mask[:, :4])


@functools.lru_cache(maxsize=None)
def recursive_distance(a: tuple, b: tuple) -> int:
    """Levenshtein distance by its textbook recursion (independent of the DP)."""
    if not a or not b:
        return len(a) + len(b)
    return min(
        recursive_distance(a[1:], b) + 1,
        recursive_distance(a, b[1:]) + 1,
        recursive_distance(a[1:], b[1:]) + (a[0] != b[0]),
    )


def test_edit_distance_known_pairs_and_recursion():
    assert edit_distance([ord(c) for c in "kitten"], [ord(c) for c in "sitting"]) == 3
    assert edit_distance([], [1, 2]) == 2 and edit_distance([1, 2, 3], []) == 3
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([1, 2, 3, 4], [4, 3, 2, 1]) == 4
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = tuple(rng.integers(0, 4, rng.integers(0, 8)).tolist())
        b = tuple(rng.integers(0, 4, rng.integers(0, 8)).tolist())
        assert edit_distance(a, b) == recursive_distance(a, b), (a, b)
