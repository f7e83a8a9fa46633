"""Paired comparison of ablation arms: means, per-seed differences, bootstrap interval, table, plot."""

import numpy as np
import pytest

from speecheq_jax.eval import compare


def _runs():
    # category UA per seed: 0.70, 0.72, 0.74; "+x" is 0.02 better on every seed; "+y" has seed 1 only.
    runs = [{"arm": "category", "seed": s, "metrics": {"category/ua": 0.70 + 0.02 * s}} for s in range(3)]
    runs += [{"arm": "+x", "seed": s, "metrics": {"category/ua": 0.72 + 0.02 * s, "phoneme/per": 0.5}}
             for s in range(3)]
    runs += [{"arm": "+y", "seed": 1, "metrics": {"category/ua": 0.60}}]
    return runs


def test_paired_differences_use_only_shared_seeds():
    diffs = {d.arm: d for d in compare.paired_differences(_runs(), "category/ua", "category")}
    assert set(diffs) == {"+x", "+y"}
    assert diffs["+x"].seeds == (0, 1, 2)
    np.testing.assert_allclose(diffs["+x"].differences, [0.02, 0.02, 0.02])
    # Identical differences: the bootstrap interval collapses onto them.
    assert diffs["+x"].low == pytest.approx(0.02) and diffs["+x"].high == pytest.approx(0.02)
    assert diffs["+y"].seeds == (1,) and diffs["+y"].mean == pytest.approx(-0.12)


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = [0.01, -0.03, 0.05, 0.02]
    low, high = compare.bootstrap_mean_interval(values)
    assert low < np.mean(values) < high
    assert low >= min(values) and high <= max(values)
    assert (low, high) == compare.bootstrap_mean_interval(values)
    with pytest.raises(ValueError, match="no values"):
        compare.bootstrap_mean_interval([])


def test_unknown_reference_is_named():
    with pytest.raises(ValueError, match="reference arm 'nope'"):
        compare.paired_differences(_runs(), "category/ua", "nope")


def test_markdown_table(tmp_path):
    table = compare.markdown_table(_runs(), [("category/ua", "UA"), ("phoneme/per", "PER")],
                                   reference="category", paired_on=["category/ua"])
    lines = table.splitlines()
    assert lines[0] == "| arm | seeds | UA | PER |"
    assert "| category | 3 | 0.720 +- 0.020 | - |" in lines
    assert "| +x | 3 | 0.740 +- 0.020 | 0.500 +- 0.000 |" in lines
    assert "| +y | 1 | 0.600 | - |" in lines
    assert "| +x | +0.020 [+0.020, +0.020] (+0.020, +0.020, +0.020) |" in lines
    compare.plot_arms(_runs(), [("category/ua", "UA"), ("phoneme/per", "PER")], str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").stat().st_size > 1000
