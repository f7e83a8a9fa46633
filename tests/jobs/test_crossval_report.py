"""The cross-validation aggregate against a hand-computed example, and the predictions file round trip."""

import json

import numpy as np
import pytest

from speecheq_jax.eval import crossval_report
from speecheq_jax.eval.prediction_store import load_predictions, save_predictions
from speecheq_jax.eval.predictions import Predictions

pytestmark = pytest.mark.unit
CATEGORIES = ("neutral", "happy")


def _fold(truth: list[int], predicted: list[int]) -> Predictions:
    """Category-only predictions of one casia fold: one-hot probabilities of `predicted`, intensity masked."""
    return Predictions(corpus=np.array(["casia"] * len(truth)), speaker=np.array(["s"] * len(truth)),
                       truth={"category": np.array(truth), "intensity": np.full(len(truth), -1.0)},
                       predicted={"category": np.eye(2)[predicted]})


def test_mean_std_and_pooled_metrics_match_the_hand_computation(tmp_path):
    # Fold A: confusion [[1, 1], [0, 2]]: WA 3/4, UA (1/2 + 1)/2 = 3/4, F1 (2/3 + 4/5)/2 = 11/15.
    # Fold B: confusion [[1, 0], [1, 1]]: WA 2/3, UA (1 + 1/2)/2 = 3/4, F1 (2/3 + 2/3)/2 = 2/3.
    # Pooled: confusion [[2, 1], [1, 3]]: WA 5/7, UA (2/3 + 3/4)/2 = 17/24, F1 (2/3 + 3/4)/2 = 17/24.
    folds = {"A": _fold([0, 0, 1, 1], [0, 1, 1, 1]), "B": _fold([0, 1, 1], [0, 0, 1])}
    result = crossval_report.aggregate(folds, CATEGORIES)
    assert result["folds"]["A"]["category/macro_f1"] == pytest.approx(11 / 15)
    assert result["mean"]["category/wa"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert result["std"]["category/wa"] == pytest.approx((3 / 4 - 2 / 3) / np.sqrt(2))  # ddof=1 over 2 folds
    assert result["mean"]["category/ua"] == pytest.approx(3 / 4) and result["std"]["category/ua"] == pytest.approx(0)
    assert result["mean"]["category/macro_f1"] == pytest.approx((11 / 15 + 2 / 3) / 2)
    pooled = result["pooled"]
    assert (pooled["category/wa"], pooled["category/ua"], pooled["category/macro_f1"]) == pytest.approx(
        (5 / 7, 17 / 24, 17 / 24))
    assert pooled["category/confusion"]["matrix"] == [[2, 1], [1, 3]] and pooled["n"] == 7

    written = crossval_report.write_crossval_report(tmp_path, {"folds_missing": ["C"], **result}, title="t",
                                                    notes=["MISSING: C"])
    assert json.loads(written["json"].read_text())["folds_missing"] == ["C"]
    report = written["report"].read_text()
    # Columns WA, UA, macro-F1, EQ (= EQ@1 = UA without an intensity head), examples.
    assert "| **mean ± std** | 0.708 ± 0.059 | 0.750 ± 0.000 | 0.700 ± 0.047 | 0.750 ± 0.000 | 7 |" in report
    assert "| **pooled** | 0.714 | 0.708 | 0.708 | 0.708 | 7 |" in report
    assert "- MISSING: C" in report and written["confusion"].stat().st_size > 1000


def test_a_single_fold_has_no_std():
    assert crossval_report.mean_std([0.5]) == (0.5, None)


def test_predictions_round_trip_with_a_ctc_head(tmp_path):
    pred = Predictions(corpus=np.array(["casia", "casia", "casia"]), speaker=np.array(["a", "b", "b"]),
                       truth={"category": np.array([0, -1, 1]), "phoneme": [np.array([1, 2]), np.zeros(0), np.array([3])]},
                       predicted={"category": np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]),
                                  "phoneme": [np.array([1]), np.array([2, 2]), np.zeros(0)]})
    save_predictions(tmp_path / "p.npz", pred, CATEGORIES)
    back, categories = load_predictions(tmp_path / "p.npz")
    assert categories == CATEGORIES and back.speaker.tolist() == ["a", "b", "b"]
    np.testing.assert_array_equal(back.predicted["category"], pred.predicted["category"])
    assert [s.tolist() for s in back.truth["phoneme"]] == [[1, 2], [], [3]]
    assert [s.tolist() for s in back.predicted["phoneme"]] == [[1], [2, 2], []]


def test_pooling_refuses_folds_with_different_heads():
    other = Predictions(corpus=np.array(["casia"]), speaker=np.array(["s"]), truth={"category": np.array([0])},
                        predicted={"intensity": np.array([0.5])})
    with pytest.raises(ValueError, match="different heads"):
        crossval_report.concatenate([_fold([0], [0]), other])
