"""Metrics against independent computations: scikit-learn, direct formulas, hand examples."""

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from speecheq_jax import labels
from speecheq_jax.eval.metrics import compute_metrics
from speecheq_jax.eval.predictions import Predictions
from speecheq_jax.heads.scoring import concordance_correlation

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
    corpus, speaker = rng.choice(corpora, n), rng.choice(["s1", "s2", "s3"], n)
    category_prob, intensity_pred = rng.random((n, C)), rng.random(n)
    gender, gender_prob = np.where(masked(), -1, rng.integers(0, 2, n)), rng.random((n, 2))
    phonemes = [rng.integers(1, 6, rng.integers(0, 5)) for _ in range(n)]
    decoded = [rng.integers(1, 6, rng.integers(0, 5)) for _ in range(n)]
    return Predictions(
        corpus=corpus, speaker=speaker,
        truth={"category": category, "intensity": intensity, "gender": gender, "phoneme": phonemes},
        predicted={"category": category_prob, "intensity": intensity_pred, "gender": gender_prob, "phoneme": decoded},
    )


def utterances(corpus: str, n: int, **truth) -> dict:
    """Predictions fields of n examples of one corpus and speaker "a", every truth masked unless given."""
    masked = {"category": np.full(n, -1), "intensity": np.full(n, -1.0), "gender": np.full(n, -1),
              "phoneme": [[]] * n}
    return {"corpus": np.array([corpus] * n), "speaker": np.array(["a"] * n), "truth": {**masked, **truth}}


def test_category_metrics_match_sklearn_and_ignore_masked():
    pred = random_predictions(seed=1, n=400)
    overall = compute_metrics(pred)["overall"]
    labelled = pred.truth["category"] != -1
    true, predicted = pred.truth["category"][labelled], pred.predicted["category"][labelled].argmax(-1)
    assert overall["category/n"] == labelled.sum() < pred.size
    assert overall["category/wa"] == pytest.approx(skm.accuracy_score(true, predicted))
    assert overall["category/ua"] == pytest.approx(skm.balanced_accuracy_score(true, predicted))
    assert overall["category/macro_f1"] == pytest.approx(skm.f1_score(true, predicted, average="macro"))
    np.testing.assert_array_equal(
        overall["category/confusion"]["matrix"], skm.confusion_matrix(true, predicted, labels=range(C))
    )
    assert overall["category/confusion"]["labels"] == list(labels.CATEGORIES)

    scrambled = random_predictions(seed=1, n=400)
    scrambled.predicted["category"][~labelled] = np.random.default_rng(9).random(((~labelled).sum(), C))
    assert compute_metrics(scrambled)["overall"]["category/ua"] == overall["category/ua"]


def test_ua_and_f1_over_classes_present_only():
    """A 4-class truth scored by a 7-way head: UA over present truth, F1 over truth or prediction."""
    true = np.array([NEU, NEU, HAP, ANG, SAD, SAD])
    predicted = np.array([NEU, HAP, HAP, ANG, SAD, labels.CATEGORY_INDEX["fear"]])
    pred = Predictions(**utterances("iemocap", 6, category=true), predicted={"category": np.eye(C)[predicted]})
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
    pred = Predictions(**utterances("cremad", 6, category=category, intensity=true),
                       predicted={"category": np.eye(C)[np.maximum(category, 0)], "intensity": predicted})
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
    intensity = pred.truth["intensity"]
    intensity[casia] = np.where(pred.truth["category"][casia] == NEU, 0.0, -1.0)
    result = compute_metrics(pred)
    assert not any(k.startswith("intensity/") for k in result["corpora"]["casia"])
    cremad = result["corpora"]["cremad"]
    assert result["overall"]["intensity/n"] == cremad["intensity/n"] > 0
    assert result["overall"]["intensity/mae"] == pytest.approx(cremad["intensity/mae"])
    # A graded corpus whose targets happen to be constant has an MAE but no CCC.
    intensity[~casia] = np.where(intensity[~casia] >= 0, 0.5, -1.0)
    cremad = compute_metrics(pred)["corpora"]["cremad"]
    assert "intensity/mae" in cremad and "intensity/ccc" not in cremad


def test_metrics_over_a_run_label_set():
    # IEMOCAP-4: ids index (neutral, happy, angry, sad); neutral is id 0 of the set
    # and a run without neutral has no neutral joint class at all.
    four = ("neutral", "happy", "angry", "sad")
    pred = Predictions(**utterances("cremad", 4, category=np.array([0, 1, 2, 3]),
                                    intensity=np.array([0.0, 1 / 3, 1.0, 2 / 3])),
                       predicted={"category": np.eye(4)[[0, 1, 2, 2]], "intensity": np.array([0.9, 0.3, 0.9, 0.6])})
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
        **utterances(corpus, 7, category=np.array([NEU, HAP, HAP, ANG, ANG, SAD, -1]),
                     intensity=np.array([0.0, 1 / 3, 1.0, 2 / 3, 1.0, -1.0, 0.5])),
        predicted={"category": np.eye(C)[[NEU, HAP, HAP, ANG, HAP, SAD, ANG]],
                   "intensity": np.array([0.8, 0.3, 0.55, 0.9, 1.0, 0.2, 0.5])},
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
    del no_intensity_head.predicted["intensity"]
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
    pred = Predictions(**{**utterances("esd", 3, phoneme=[[1, 2, 3], [4, 5], []]), "speaker": np.array(["a", "b", "c"])},
                       predicted={"phoneme": [[1, 3], [4, 5, 6], [7]]})
    group = compute_metrics(pred)["overall"]
    assert (group["phoneme/n"], group["phoneme/ref_tokens"], group["phoneme/edits"]) == (2, 5, 2)
    assert group["phoneme/per"] == pytest.approx(2 / 5)
    assert group["speakers"] == 3 and "category/n" not in group and "eq" not in group


def test_gender_accuracy_and_degenerate_flag():
    pred = random_predictions(seed=4, n=200)
    labelled = pred.truth["gender"] != -1
    overall = compute_metrics(pred)["overall"]
    expected = skm.accuracy_score(pred.truth["gender"][labelled], pred.predicted["gender"][labelled].argmax(-1))
    assert overall["gender/accuracy"] == pytest.approx(expected) and overall["gender/n"] == labelled.sum()
    assert overall["gender/degenerate"] is False
    pred.truth["gender"][labelled] = 1
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
    pred.truth["intensity"][pred.corpus == "iemocap"] = -1.0
    result = compute_metrics(pred)
    json.dumps(result, allow_nan=False)
    assert all(math.isfinite(v) for v in all_numbers(result) if isinstance(v, float))
    assert "intensity/mae" not in result["corpora"]["iemocap"]
    assert result["corpora"]["iemocap"].keys().isdisjoint({"eq@2", "eq@3"})


def test_predictions_select_and_validation():
    pred = random_predictions(seed=6, n=50)
    first = pred.select(np.arange(50) < 20)
    assert first.size == 20
    assert all(np.array_equal(a, b) for a, b in zip(first.predicted["phoneme"], pred.predicted["phoneme"][:20]))
    np.testing.assert_array_equal(first.truth["category"], pred.truth["category"][:20])
    with pytest.raises(ValueError, match="Predictions.speaker has shape"):
        Predictions(**{**utterances("a", 2), "speaker": ["a"]})
    with pytest.raises(ValueError, match=r"truth\['intensity'\]\[1\] = 1.5"):
        Predictions(**utterances("a", 2, intensity=[0.0, 1.5]))
    with pytest.raises(ValueError, match=r"predicted\['intensity'\] has non-finite values in rows \[0\]"):
        Predictions(**utterances("a", 1), predicted={"intensity": [np.nan]})
    with pytest.raises(ValueError, match="unknown head 'valence'"):
        Predictions(**utterances("a", 1), predicted={"valence": [0.5]})
    with pytest.raises(ValueError, match=r"category predictions have 7 columns, the label set .* has 4"):
        compute_metrics(pred, categories=("neutral", "happy", "angry", "sad"))
