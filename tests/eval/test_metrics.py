"""Metrics against independent computations: scikit-learn, direct formulas, hand examples."""

import functools
import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from speecheq_jax import labels
from speecheq_jax.eval.ctc_decode import ctc_greedy_decode, edit_distance
from speecheq_jax.eval.metrics import Predictions, aggregate_folds, compute_metrics, concordance_correlation

pytestmark = pytest.mark.unit

C = len(labels.CATEGORIES)
NEU, HAP, ANG, SAD = (labels.CATEGORY_INDEX[c] for c in ("neutral", "happy", "angry", "sad"))


def random_predictions(seed: int, n: int, corpora: tuple[str, ...] = ("cremad", "casia")) -> Predictions:
    """N random examples with about a fifth of every label masked."""
    rng = np.random.default_rng(seed)
    masked = lambda: rng.random(n) < 0.2  # noqa: E731
    category = np.where(masked(), -1, rng.integers(0, C, n))
    intensity = np.where(masked(), -1.0, rng.integers(1, 4, n) / 3)
    intensity = np.where(category == NEU, 0.0, intensity)
    return Predictions(
        corpus=rng.choice(corpora, n),
        speaker=rng.choice(["s1", "s2", "s3"], n),
        category_true=category,
        category_prob=rng.random((n, C)),
        intensity_true=intensity,
        intensity_pred=rng.random(n),
        gender_true=np.where(masked(), -1, rng.integers(0, 2, n)),
        gender_prob=rng.random((n, 2)),
        phoneme_true=[rng.integers(1, 6, rng.integers(0, 5)) for _ in range(n)],
        phoneme_pred=[rng.integers(1, 6, rng.integers(0, 5)) for _ in range(n)],
    )


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


def test_category_metrics_match_sklearn_and_ignore_masked():
    pred = random_predictions(seed=1, n=400)
    overall = compute_metrics(pred)["overall"]
    labelled = pred.category_true != -1
    true, predicted = pred.category_true[labelled], pred.category_prob[labelled].argmax(-1)
    assert overall["category/n"] == labelled.sum() < pred.size
    assert overall["category/wa"] == pytest.approx(skm.accuracy_score(true, predicted))
    assert overall["category/ua"] == pytest.approx(skm.balanced_accuracy_score(true, predicted))
    assert overall["category/macro_f1"] == pytest.approx(skm.f1_score(true, predicted, average="macro"))
    np.testing.assert_array_equal(
        overall["category/confusion"]["matrix"], skm.confusion_matrix(true, predicted, labels=range(C))
    )
    assert overall["category/confusion"]["labels"] == list(labels.CATEGORIES)

    scrambled = random_predictions(seed=1, n=400)
    scrambled.category_prob[~labelled] = np.random.default_rng(9).random(((~labelled).sum(), C))
    assert compute_metrics(scrambled)["overall"]["category/ua"] == overall["category/ua"]


def test_ua_and_f1_over_classes_present_only():
    """A 4-class truth scored by a 7-way head: UA over present truth, F1 over truth or prediction."""
    true = np.array([NEU, NEU, HAP, ANG, SAD, SAD])
    predicted = np.array([NEU, HAP, HAP, ANG, SAD, labels.CATEGORY_INDEX["fear"]])
    pred = Predictions(
        corpus=np.array(["iemocap"] * 6),
        speaker=np.array(["a"] * 6),
        category_true=true,
        category_prob=np.eye(C)[predicted],
        intensity_true=np.full(6, -1.0),
        gender_true=np.full(6, -1),
        phoneme_true=[[]] * 6,
    )
    group = compute_metrics(pred)["corpora"]["iemocap"]
    assert group["category/ua"] == pytest.approx((0.5 + 1 + 1 + 0.5) / 4)
    # F1 per class: neutral 2/3, happy 2/3, angry 1, sad 2/3, fear 0 (predicted, never true).
    assert group["category/macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1 + 2 / 3 + 0) / 5)
    assert group["eq@1"] == group["category/ua"] and "eq@2" not in group
    assert group["eq"] == group["eq@1"]
    assert not any(key.startswith(("intensity/", "gender/", "phoneme/")) for key in group)


def test_ccc_hand_example_and_direct_formula():
    # y = x / 2 + 1/4: var x = 1/6, var y = 1/24, cov = 1/12, same mean -> (1/6) / (5/24) = 0.8.
    x = np.array([0.0, 0.5, 1.0])
    assert concordance_correlation(x, x / 2 + 0.25) == pytest.approx(0.8)
    # A shift by 1/4: var 1/6 each, cov 1/6, mean gap 1/16 -> (1/3) / (1/3 + 1/16) = 16/19.
    assert concordance_correlation(x, x + 0.25) == pytest.approx(16 / 19)
    rng = np.random.default_rng(2)
    a, b = rng.random(50), rng.random(50) * 0.5 + 0.3
    r = np.corrcoef(a, b)[0, 1]
    direct = 2 * r * a.std() * b.std() / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
    assert concordance_correlation(a, b) == pytest.approx(direct)
    assert concordance_correlation(np.ones(4), np.ones(4)) is None
    assert concordance_correlation(np.ones(1), np.zeros(1)) is None


def test_intensity_mae_ccc_and_native_accuracy():
    true = np.array([1 / 3, 2 / 3, 1.0, 0.0, -1.0, 1.0])
    predicted = np.array([0.30, 0.90, 0.05, 0.40, 0.50, 0.95])
    category = np.array([HAP, HAP, ANG, NEU, SAD, -1])
    pred = Predictions(
        corpus=np.array(["cremad"] * 6),
        speaker=np.array(["a"] * 6),
        category_true=category,
        category_prob=np.eye(C)[np.maximum(category, 0)],
        intensity_true=true,
        intensity_pred=predicted,
        gender_true=np.full(6, -1),
        phoneme_true=[[]] * 6,
    )
    group = compute_metrics(pred)["corpora"]["cremad"]
    labelled = true != -1
    assert group["intensity/n"] == 5
    assert group["intensity/mae"] == pytest.approx(np.mean(np.abs(true - predicted)[labelled]))
    assert group["intensity/ccc"] == pytest.approx(concordance_correlation(true[labelled], predicted[labelled]))
    # Native levels (1..3) of the three emotional, category-labelled examples: true 1, 2, 3;
    # predicted 0.30 -> 1 (right), 0.90 -> 3 (wrong), 0.05 -> 0 clipped to 1 (wrong).
    assert group["intensity/native_n"] == 3
    assert group["intensity/native_accuracy"] == pytest.approx(1 / 3)

    pred.corpus[:] = "casia"
    casia = compute_metrics(pred)["corpora"]["casia"]
    assert "intensity/native_accuracy" not in casia and casia["intensity/n"] == 5


def test_intensity_is_left_out_for_a_corpus_without_an_intensity_scale():
    # CASIA labels intensity on its neutral examples only (0): MAE over them and a
    # CCC against a constant target measure nothing, so neither is reported,
    # per corpus or in the pooled overall figures.
    pred = random_predictions(seed=9, n=80, corpora=("cremad", "casia"))
    casia = pred.corpus == "casia"
    pred.intensity_true[casia] = np.where(pred.category_true[casia] == NEU, 0.0, -1.0)
    result = compute_metrics(pred)
    assert not any(k.startswith("intensity/") for k in result["corpora"]["casia"])
    cremad = result["corpora"]["cremad"]
    assert result["overall"]["intensity/n"] == cremad["intensity/n"] > 0
    assert result["overall"]["intensity/mae"] == pytest.approx(cremad["intensity/mae"])
    # A graded corpus whose targets happen to be constant has an MAE but no CCC.
    pred.intensity_true[~casia] = np.where(pred.intensity_true[~casia] >= 0, 0.5, -1.0)
    cremad = compute_metrics(pred)["corpora"]["cremad"]
    assert "intensity/mae" in cremad and "intensity/ccc" not in cremad


def test_metrics_over_a_run_label_set():
    # IEMOCAP-4: ids index (neutral, happy, angry, sad); neutral is id 0 of the set
    # and a run without neutral has no neutral joint class at all.
    four = ("neutral", "happy", "angry", "sad")
    pred = Predictions(
        corpus=np.array(["cremad"] * 4), speaker=np.array(["a"] * 4),
        category_true=np.array([0, 1, 2, 3]), category_prob=np.eye(4)[[0, 1, 2, 2]],
        intensity_true=np.array([0.0, 1 / 3, 1.0, 2 / 3]), intensity_pred=np.array([0.9, 0.3, 0.9, 0.6]),
        gender_true=np.full(4, -1), phoneme_true=[[]] * 4)
    group = compute_metrics(pred, categories=four)["corpora"]["cremad"]
    assert group["category/confusion"]["labels"] == list(four)
    assert np.asarray(group["category/confusion"]["matrix"]).shape == (4, 4)
    assert group["category/ua"] == pytest.approx(0.75)
    assert group["intensity/native_n"] == 3  # neutral (id 0 of the set) is not on the native scale
    assert group["eq@3"] == pytest.approx(0.75)  # neutral's joint class ignores its predicted 0.9
    no_neutral = compute_metrics(pred, categories=("happy", "angry", "sad", "fear"))["corpora"]["cremad"]
    assert no_neutral["intensity/native_n"] == 4


def eq_hand_example(corpus: str) -> Predictions:
    """Seven examples whose EQ@k the tests work out by hand."""
    return Predictions(
        corpus=np.array([corpus] * 7),
        speaker=np.array(["a"] * 7),
        category_true=np.array([NEU, HAP, HAP, ANG, ANG, SAD, -1]),
        category_prob=np.eye(C)[[NEU, HAP, HAP, ANG, HAP, SAD, ANG]],
        intensity_true=np.array([0.0, 1 / 3, 1.0, 2 / 3, 1.0, -1.0, 0.5]),
        intensity_pred=np.array([0.8, 0.3, 0.55, 0.9, 1.0, 0.2, 0.5]),
        gender_true=np.full(7, -1),
        phoneme_true=[[]] * 7,
    )


def test_eq_at_k_hand_example():
    group = compute_metrics(eq_hand_example("seqd_synth"))["corpora"]["seqd_synth"]
    # EQ@1: recall neutral 1/1, happy 2/2, angry 1/2 (one predicted happy), sad 1/1.
    assert group["eq@1/n"] == 6 and group["eq@1"] == pytest.approx(3.5 / 4)
    # EQ@2 (sad has no intensity, last has no category): bins true / predicted
    # neutral -/-, happy 0/0, happy 1/1, angry 1/1, angry 1/(happy 1):
    # classes neutral 1, happy@1 1, happy@2 1, angry@2 1/2.
    assert group["eq@2/n"] == 5 and group["eq@2"] == pytest.approx(3.5 / 4)
    # EQ@3: happy 0/0 right, happy 2/1 wrong, angry 1/2 wrong, angry 2/(happy) wrong:
    # classes neutral 1, happy@1 1, happy@3 0, angry@2 0, angry@3 0.
    assert group["eq@3/n"] == 5 and group["eq@3"] == pytest.approx(2 / 5)
    assert group["eq"] == pytest.approx((3.5 / 4 + 3.5 / 4 + 2 / 5) / 3)

    ravdess = compute_metrics(eq_hand_example("ravdess"))["corpora"]["ravdess"]
    assert "eq@3" not in ravdess and ravdess["eq"] == pytest.approx(3.5 / 4)

    no_intensity_head = eq_hand_example("seqd_synth")
    no_intensity_head.intensity_pred = None
    group = compute_metrics(no_intensity_head)["corpora"]["seqd_synth"]
    assert "eq@2" not in group and group["eq"] == pytest.approx(3.5 / 4)


def test_per_corpus_groups_equal_separate_evaluation_and_overall_eq_rule():
    pred = random_predictions(seed=3, n=300, corpora=("cremad", "ravdess", "casia"))
    result = compute_metrics(pred)
    assert sorted(result["corpora"]) == ["casia", "cremad", "ravdess"]
    for corpus, group in result["corpora"].items():
        alone = compute_metrics(pred.select(pred.corpus == corpus))
        assert alone["corpora"][corpus] == group
        assert group["n"] == (pred.corpus == corpus).sum()
    overall, groups = result["overall"], result["corpora"]
    assert overall["eq@3"] == pytest.approx(groups["cremad"]["eq@3"])
    assert overall["eq@2"] == pytest.approx((groups["cremad"]["eq@2"] + groups["ravdess"]["eq@2"]) / 2)
    assert overall["eq@1/n"] == sum(g["eq@1/n"] for g in groups.values())
    assert overall["eq"] == pytest.approx(np.mean([g["eq"] for g in groups.values()]))
    assert overall["category/ua"] != overall["eq@1"]  # pooled UA vs mean of per-corpus UA


def test_phoneme_error_rate_pools_tokens():
    pred = Predictions(
        corpus=np.array(["esd"] * 3),
        speaker=np.array(["a", "b", "c"]),
        category_true=np.full(3, -1),
        intensity_true=np.full(3, -1.0),
        gender_true=np.full(3, -1),
        phoneme_true=[[1, 2, 3], [4, 5], []],
        phoneme_pred=[[1, 3], [4, 5, 6], [7]],
    )
    group = compute_metrics(pred)["overall"]
    assert (group["phoneme/n"], group["phoneme/ref_tokens"], group["phoneme/edits"]) == (2, 5, 2)
    assert group["phoneme/per"] == pytest.approx(2 / 5)
    assert group["speakers"] == 3 and "category/n" not in group and "eq" not in group


def test_gender_accuracy_and_degenerate_flag():
    pred = random_predictions(seed=4, n=200)
    labelled = pred.gender_true != -1
    overall = compute_metrics(pred)["overall"]
    expected = skm.accuracy_score(pred.gender_true[labelled], pred.gender_prob[labelled].argmax(-1))
    assert overall["gender/accuracy"] == pytest.approx(expected) and overall["gender/n"] == labelled.sum()
    assert overall["gender/degenerate"] is False
    pred.gender_true[labelled] = 1
    assert compute_metrics(pred)["overall"]["gender/degenerate"] is True


def all_numbers(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from all_numbers(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from all_numbers(value)
    else:
        yield tree


def test_output_is_json_and_nan_free_even_when_groups_lack_labels():
    pred = random_predictions(seed=5, n=60, corpora=("cremad", "iemocap"))
    pred.intensity_true[pred.corpus == "iemocap"] = -1.0
    result = compute_metrics(pred)
    json.dumps(result, allow_nan=False)
    assert all(math.isfinite(v) for v in all_numbers(result) if isinstance(v, float))
    assert "intensity/mae" not in result["corpora"]["iemocap"]
    assert result["corpora"]["iemocap"].keys().isdisjoint({"eq@2", "eq@3"})


def test_predictions_concatenate_and_validation():
    pred = random_predictions(seed=6, n=50)
    halves = [pred.select(np.arange(50) < 20), pred.select(np.arange(50) >= 20)]
    assert compute_metrics(Predictions.concatenate(halves)) == compute_metrics(pred)
    halves[1].gender_prob = None
    with pytest.raises(ValueError, match="gender_prob is None in some parts"):
        Predictions.concatenate(halves)
    with pytest.raises(ValueError, match="Predictions.speaker has shape"):
        Predictions(corpus=["a", "b"], speaker=["a"], category_true=[0, 0], intensity_true=[0.0, 0.0],
                    gender_true=[0, 0], phoneme_true=[[], []])
    with pytest.raises(ValueError, match=r"intensity_true\[1\] = 1.5"):
        Predictions(corpus=["a", "b"], speaker=["a", "b"], category_true=[0, 0], intensity_true=[0.0, 1.5],
                    gender_true=[0, 0], phoneme_true=[[], []])
    with pytest.raises(ValueError, match="intensity_pred has non-finite values in rows \\[0\\]"):
        Predictions(corpus=["a"], speaker=["a"], category_true=[0], intensity_true=[0.0], intensity_pred=[np.nan],
                    gender_true=[0], phoneme_true=[[]])
    with pytest.raises(ValueError, match=r"category_prob has 7 columns, the label set .* has 4"):
        compute_metrics(pred, categories=("neutral", "happy", "angry", "sad"))


def test_aggregate_folds_mean_std_counts_and_partial_corpora():
    folds = [
        compute_metrics(random_predictions(seed=7, n=120, corpora=("cremad", "casia"))),
        compute_metrics(random_predictions(seed=8, n=80, corpora=("cremad",))),
    ]
    agg = aggregate_folds(folds)
    assert agg["num_folds"] == 2 and agg["folds"] == folds
    values = [fold["overall"]["category/ua"] for fold in folds]
    assert agg["mean"]["overall"]["category/ua"] == pytest.approx(np.mean(values))
    assert agg["std"]["overall"]["category/ua"] == pytest.approx(np.std(values))
    assert agg["mean"]["overall"]["n"] == 200
    summed = np.add(*[fold["overall"]["category/confusion"]["matrix"] for fold in folds])
    np.testing.assert_array_equal(agg["mean"]["overall"]["category/confusion"]["matrix"], summed)
    assert agg["fold_count"]["corpora"]["casia"]["eq"] == 1
    assert agg["mean"]["corpora"]["casia"]["eq"] == folds[0]["corpora"]["casia"]["eq"]
    assert agg["std"]["corpora"]["casia"]["eq"] == 0.0
    json.dumps(agg, allow_nan=False)
