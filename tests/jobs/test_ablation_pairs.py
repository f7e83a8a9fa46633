"""The ablation on cross-validation: one record per arm x seed x fold, differences paired on (fold, seed)."""

import json

import numpy as np
import pytest

from bench import ablation
from speecheq_jax.eval import compare

pytestmark = pytest.mark.unit
# category UA per (fold, seed); "+x" adds fold3 of seed 0, which the reference never ran.
UA = {"category": {("fold1", 0): 0.60, ("fold2", 0): 0.70, ("fold1", 1): 0.62, ("fold2", 1): 0.66},
      "+x": {("fold1", 0): 0.65, ("fold2", 0): 0.70, ("fold1", 1): 0.61, ("fold2", 1): 0.70, ("fold3", 0): 0.9}}


def _runs(tmp_path) -> list[dict]:
    """The records bench/ablation.py makes from each arm x seed job's crossval.json."""
    runs = []
    for arm, values in UA.items():
        for seed in (0, 1):
            folds = {fold: {"category/ua": ua, "n": 10, "category/confusion": {}} for (fold, s), ua in values.items()
                     if s == seed}
            workdir = tmp_path / arm / str(seed)
            workdir.mkdir(parents=True)
            (workdir / "crossval.json").write_text(json.dumps(
                {"folds": folds, "folds_finished": sorted(folds), "folds_missing": []}))
            runs += ablation.fold_records(arm, seed, {"wall_s": 1.0, "commit": "abc1234"}, str(workdir),
                                          ablation.fold_metrics(workdir, []))
    return runs


def test_differences_are_paired_on_fold_and_seed(tmp_path):
    (diff,) = compare.paired_differences(_runs(tmp_path), "category/ua", "category")
    assert diff.seeds == (("fold1", 0), ("fold1", 1), ("fold2", 0), ("fold2", 1))  # fold3 has no reference
    np.testing.assert_allclose(diff.differences, [0.05, -0.01, 0.0, 0.04], atol=1e-12)
    assert diff.mean == pytest.approx(0.02)
    assert -0.01 <= diff.low < 0.02 < diff.high <= 0.05


def test_table_counts_fold_x_seed_pairs(tmp_path):
    lines = compare.markdown_table(_runs(tmp_path), [("category/ua", "UA")], reference="category",
                                   paired_on=["category/ua"]).splitlines()
    assert lines[0] == "| arm | fold x seed | UA |"
    assert "| category | 4 | 0.645 +- 0.044 |" in lines  # sample std of 0.60, 0.70, 0.62, 0.66
    assert any(line.startswith("| +x | +0.020 [") and line.endswith("(+0.050, -0.010, +0.000, +0.040) |")
               for line in lines)
    assert any("mean over 5 (fold, seed) pairs" in line for line in lines)
    without_reference = compare.markdown_table([r for r in _runs(tmp_path / "x") if r["arm"] == "+x"],
                                               [("category/ua", "UA")], reference="category",
                                               paired_on=["category/ua"]).splitlines()
    assert without_reference[-1] == "No paired differences: the reference arm `category` has no runs."


def test_an_unfinished_fold_means_the_job_is_rerun(tmp_path):
    (tmp_path / "crossval.json").write_text(json.dumps(
        {"folds": {"fold1": {"category/ua": 0.5}}, "folds_finished": ["fold1"], "folds_missing": ["fold2"]}))
    assert ablation.fold_metrics(tmp_path, []) is None
    assert ablation.fold_metrics(tmp_path, ["fold1"]) == {"fold1": {"category/ua": 0.5}}


def test_a_record_keeps_the_runs_another_invocation_wrote(tmp_path):
    runs = _runs(tmp_path)
    path = tmp_path / "ablation.json"
    ablation.write_record(path, {"config": "c", "runs": [r for r in runs if r["arm"] == "category"]})
    ablation.write_record(path, {"config": "c", "runs": [r for r in runs if r["arm"] == "+x" and r["seed"] == 1]})
    rewritten = [{**r, "wall_s": 2.0} for r in runs if r["arm"] == "category" and r["seed"] == 0]
    ablation.write_record(path, {"config": "c", "runs": rewritten})
    record = json.loads(path.read_text())
    assert sorted((r["arm"], r["seed"], r["fold"], r["wall_s"]) for r in record["runs"]) == [
        ("+x", 1, "fold1", 1.0), ("+x", 1, "fold2", 1.0), ("category", 0, "fold1", 2.0),
        ("category", 0, "fold2", 2.0), ("category", 1, "fold1", 1.0), ("category", 1, "fold2", 1.0)]
    assert set(record["arms"]) == {"category"} and record["seeds"] == [0, 1]  # "+x" is no arm of ARMS
