"""Batch plans on lengths alone (numpy, no dataset): training windows and evaluation coverage."""

from __future__ import annotations

import numpy as np
import pytest

from speecheq_jax.input import buckets

pytestmark = pytest.mark.unit


def test_window_plan_sorts_cuts_and_picks_the_smallest_bucket():
    frames = np.array([50, 300, 120, 60, 250, 130, 10, 200])
    window = np.random.default_rng(0).permutation(8)
    plans = buckets.window_plan(window, frames, 2, (64, 128, 256, 384), np.random.default_rng(1))
    assert sorted(np.concatenate([p.positions for p in plans]).tolist()) == list(range(8))
    by_members = {tuple(sorted(frames[p.positions])): p.bucket for p in plans}
    assert by_members == {(10, 50): 64, (60, 120): 128, (130, 200): 256, (250, 300): 384}
    with pytest.raises(ValueError, match="not a whole number of batches"):
        buckets.window_plan(window[:7], frames, 2, (384,), np.random.default_rng(1))


def test_window_plan_order_follows_the_generator():
    frames = np.arange(16) * 10 + 5
    orders = {tuple(p.bucket for p in buckets.window_plan(np.arange(16), frames, 2, tuple(range(16, 176, 16)),
                                                          np.random.default_rng(seed))) for seed in range(4)}
    assert len(orders) > 1


def test_eval_plan_covers_every_example_once_and_extends_buckets():
    frames = np.array([40, 10, 700, 30, 20])
    plans = buckets.eval_plan(frames, 2, (32, 64))
    assert [p.positions.tolist() for p in plans] == [[1, 4], [3, 0], [2, -1]]
    assert [p.bucket for p in plans] == [32, 64, 704]
    assert buckets.eval_plan(np.zeros(0, np.int64), 2, (32,)) == []
