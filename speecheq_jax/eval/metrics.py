"""Evaluation metrics: host-side predictions of the four heads -> plain numbers.

The evaluation loop runs the model and gathers a `Predictions` record (padding
already removed); `compute_metrics` turns it into a JSON-able dict, per corpus
and overall, and `aggregate_folds` into mean and std over cross-validation
folds. Everything here is numpy, so it is tested against independent
implementations (scikit-learn, hand computations) and never compiles.

Which examples count (a label of -1, or an empty phoneme sequence, is masked):

| key prefix         | examples                                                   |
|--------------------|------------------------------------------------------------|
| category/*         | category labelled                                          |
| intensity/n, mae,  | intensity labelled (neutral included, at 0), of a corpus   |
| ccc                | whose labelled intensities here are not all 0 (*)          |
| intensity/native_* | corpus has a categorical scale (its CorpusLabels.intensity_levels),  |
|                    | category labelled and not neutral, intensity labelled      |
| phoneme/*          | reference phoneme sequence not empty                       |
| gender/*           | gender labelled                                            |
| eq@1               | = category/ua (category labelled)                          |
| eq@k, k >= 2       | category AND intensity labelled, k in supported_scales     |

(*) A corpus without an intensity scale (CASIA, ESD, IEMOCAP without its
arousal option) labels only its neutral examples, all at 0: an error on them
measures nothing about intensity, so such a corpus has no intensity/n, mae or
ccc, and its examples do not enter the overall ones either.

Category ids are indexes into the run's label set (`categories`, default the
whole taxonomy): the confusion matrix lists exactly those classes.

Definitions:

* WA = accuracy; UA = mean recall over the classes present in the truth;
  macro-F1 = mean F1 over the classes present in the truth OR the predictions
  (scikit-learn's default), so predicting a class a corpus lacks costs F1.
* Native-scale accuracy: the true level i of n is `to_native_level`; the
  predicted intensity is rounded to the nearest level and clipped to 1..n,
  since an emotional example has no level 0 on its native scale.
* CCC = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), population
  moments; absent when undefined (fewer than 2 examples, zero denominator)
  and when the targets are constant (it would be 0 whatever was predicted).
* PER = total edits / total reference tokens (not a mean of per-utterance rates).
* EQ@k = UA over joint (category, intensity bin) labels, the predicted joint
  label being (argmax category, bin of the predicted intensity); a corpus's
  EQ = mean of its EQ@k over its supported scales that have examples.
* OVERALL: every metric except EQ pools all examples. EQ does not pool,
  because corpora support different scales: overall EQ@k is the unweighted
  mean of the per-corpus EQ@k over the corpora that report it, and overall EQ
  the unweighted mean of the per-corpus EQ (each corpus weighs the same,
  whatever its size). Overall eq@k/n is the sum of those corpora's counts.

A metric without examples is absent, never NaN; counts are ints, flags bools,
metrics floats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from speecheq_jax import labels
from speecheq_jax.eval.ctc_decode import edit_distance
from speecheq_jax.data.corpora import registry

_SEQUENCE_FIELDS = ("phoneme_true", "phoneme_pred")


@dataclasses.dataclass(kw_only=True)
class Predictions:
    """Truth and predictions over N evaluated examples, as host numpy arrays.

    Truth fields are always present (-1 / empty where an example has no
    label); a prediction field is None when its head is disabled.

    Attributes:
      corpus: str [N] corpus name of each example.
      speaker: str [N] speaker id.
      category_true: int [N] category id in the run's label set, -1 = none.
      category_prob: float [N, C] category probabilities over the label set
        (or logits: only the argmax is used).
      intensity_true: float [N] intensity on [0, 1], -1 = none.
      intensity_pred: float [N] predicted intensity.
      gender_true: int [N] labels.GENDERS id, -1 = none.
      gender_prob: float [N, 2] gender probabilities (or logits).
      phoneme_true: N reference phoneme id sequences, empty = none.
      phoneme_pred: N greedy-decoded phoneme id sequences.
    """

    corpus: np.ndarray
    speaker: np.ndarray
    category_true: np.ndarray
    category_prob: np.ndarray | None = None
    intensity_true: np.ndarray
    intensity_pred: np.ndarray | None = None
    gender_true: np.ndarray
    gender_prob: np.ndarray | None = None
    phoneme_true: list[np.ndarray]
    phoneme_pred: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        n = len(self.corpus)
        self.corpus = _checked_array("corpus", self.corpus, str, 1, n)
        self.speaker = _checked_array("speaker", self.speaker, str, 1, n)
        self.category_true = _checked_array("category_true", self.category_true, np.int64, 1, n)
        self.intensity_true = _checked_array("intensity_true", self.intensity_true, np.float64, 1, n)
        self.gender_true = _checked_array("gender_true", self.gender_true, np.int64, 1, n)
        if self.category_prob is not None:
            self.category_prob = _checked_array("category_prob", self.category_prob, np.float64, 2, n)
        if self.intensity_pred is not None:
            self.intensity_pred = _checked_array("intensity_pred", self.intensity_pred, np.float64, 1, n)
        if self.gender_prob is not None:
            self.gender_prob = _checked_array("gender_prob", self.gender_prob, np.float64, 2, n)
            if self.gender_prob.shape[1] != len(labels.GENDERS):
                raise ValueError(f"gender_prob has {self.gender_prob.shape[1]} columns, expected {len(labels.GENDERS)}")
        for name in _SEQUENCE_FIELDS:
            if getattr(self, name) is not None:
                setattr(self, name, _checked_sequences(name, getattr(self, name), n))
        _check_label_values(self)

    @property
    def size(self) -> int:
        """Number of examples N."""
        return len(self.corpus)

    def select(self, keep: np.ndarray) -> Predictions:
        """The examples where the bool [N] mask `keep` is True."""
        keep = np.asarray(keep, dtype=bool)
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                values[field.name] = None
            elif field.name in _SEQUENCE_FIELDS:
                values[field.name] = [seq for seq, k in zip(value, keep) if k]
            else:
                values[field.name] = value[keep]
        return Predictions(**values)

    @classmethod
    def concatenate(cls, parts: Sequence[Predictions]) -> Predictions:
        """Joins the records of several batches (or hosts) in order.

        Raises ValueError when the parts disagree on which heads are present.
        """
        if not parts:
            raise ValueError("Predictions.concatenate needs at least one part")
        values = {}
        for field in dataclasses.fields(cls):
            pieces = [getattr(p, field.name) for p in parts]
            present = [piece is not None for piece in pieces]
            if not all(present):
                if any(present):
                    raise ValueError(f"Predictions.concatenate: {field.name} is None in some parts only")
                values[field.name] = None
            elif field.name in _SEQUENCE_FIELDS:
                values[field.name] = [seq for piece in pieces for seq in piece]
            else:
                values[field.name] = np.concatenate(pieces, axis=0)
        return cls(**values)


def _checked_array(name: str, value: Any, dtype: type, ndim: int, n: int) -> np.ndarray:
    """`value` as an array of `dtype`, with `ndim` dims, N rows and finite numbers."""
    array = np.asarray(value).astype(dtype)
    if array.ndim != ndim or array.shape[0] != n:
        raise ValueError(f"Predictions.{name} has shape {list(array.shape)}, expected {ndim} dims with N={n} rows")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad_rows = np.flatnonzero(~np.isfinite(array).reshape(n, -1).all(axis=1))
        raise ValueError(f"Predictions.{name} has non-finite values in rows {bad_rows[:10].tolist()}")
    return array


def _checked_sequences(name: str, value: Sequence[Sequence[int]], n: int) -> list[np.ndarray]:
    if len(value) != n:
        raise ValueError(f"Predictions.{name} has {len(value)} sequences, expected N={n}")
    return [np.asarray(seq, dtype=np.int64).reshape(-1) for seq in value]


def _check_label_values(pred: Predictions) -> None:
    """Rejects label values outside their ranges (a corrupted or mis-joined record)."""
    bad = {
        "category_true": pred.category_true < labels.MISSING,
        "intensity_true": (pred.intensity_true != labels.MISSING)
        & ((pred.intensity_true < 0.0) | (pred.intensity_true > 1.0)),
        "gender_true": (pred.gender_true < labels.MISSING) | (pred.gender_true >= len(labels.GENDERS)),
    }
    for name, rows in bad.items():
        if rows.any():
            first = int(np.flatnonzero(rows)[0])
            raise ValueError(f"Predictions.{name}[{first}] = {getattr(pred, name)[first]} is out of range (-1 = none)")


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """int [K, K] counts, rows = true class, columns = predicted class."""
    counts = np.bincount(np.asarray(true) * num_classes + np.asarray(predicted), minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def weighted_accuracy(confusion: np.ndarray) -> float:
    """WA: the fraction of examples classified correctly."""
    return float(np.trace(confusion) / confusion.sum())


def unweighted_accuracy(confusion: np.ndarray) -> float:
    """UA: mean recall over the classes present in the truth (rows with examples)."""
    support = confusion.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(confusion)[present] / support[present]))


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over the classes present in the truth or the predictions."""
    true_positive = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    present = (support + predicted) > 0
    return float(np.mean(2.0 * true_positive[present] / (support + predicted)[present]))


def concordance_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Lin's concordance correlation coefficient of float [N] x and y, None if undefined."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return None
    covariance = np.mean((x - x.mean()) * (y - y.mean()))
    denominator = x.var() + y.var() + (x.mean() - y.mean()) ** 2
    return float(2.0 * covariance / denominator) if denominator > 0 else None


def _category_metrics(pred: Predictions, categories: Sequence[str]) -> dict[str, Any]:
    labelled = pred.category_true != labels.MISSING
    if pred.category_prob is None or not labelled.any():
        return {}
    confusion = confusion_matrix(pred.category_true[labelled], pred.category_prob[labelled].argmax(-1), len(categories))
    return {
        "category/n": int(labelled.sum()),
        "category/wa": weighted_accuracy(confusion),
        "category/ua": unweighted_accuracy(confusion),
        "category/macro_f1": macro_f1(confusion),
        "category/confusion": {"labels": list(categories), "matrix": confusion.tolist()},
    }


def _graded(pred: Predictions) -> np.ndarray:
    """bool [N]: intensity labelled, in a corpus whose labelled intensities are not all 0 (docstring (*))."""
    labelled = pred.intensity_true != labels.MISSING
    graded_corpora = np.unique(pred.corpus[labelled & (pred.intensity_true > 0)])
    return labelled & np.isin(pred.corpus, graded_corpora)


def _intensity_metrics(pred: Predictions, neutral: int | None) -> dict[str, Any]:
    counted = _graded(pred)
    if pred.intensity_pred is None or not counted.any():
        return {}
    true, predicted = pred.intensity_true[counted], pred.intensity_pred[counted]
    out: dict[str, Any] = {
        "intensity/n": int(counted.sum()),
        "intensity/mae": float(np.mean(np.abs(predicted - true))),
    }
    ccc = concordance_correlation(true, predicted) if np.ptp(true) > 0 else None
    if ccc is not None:
        out["intensity/ccc"] = ccc
    levels = np.array([registry.get(c).labels.intensity_levels or 0 for c in pred.corpus], dtype=np.int64)
    emotional = (pred.category_true != labels.MISSING) & (pred.category_true != neutral)
    on_native_scale = counted & emotional & (levels > 0)
    if on_native_scale.any():
        n_levels = levels[on_native_scale]
        true_level = labels.to_native_level(pred.intensity_true[on_native_scale], n_levels)
        pred_level = np.clip(labels.to_native_level(pred.intensity_pred[on_native_scale], n_levels), 1, n_levels)
        out["intensity/native_n"] = int(on_native_scale.sum())
        out["intensity/native_accuracy"] = float(np.mean(true_level == pred_level))
    return out


def _phoneme_metrics(pred: Predictions) -> dict[str, Any]:
    if pred.phoneme_pred is None:
        return {}
    pairs = [(ref, hyp) for ref, hyp in zip(pred.phoneme_true, pred.phoneme_pred) if ref.size > 0]
    if not pairs:
        return {}
    edits = sum(edit_distance(ref, hyp) for ref, hyp in pairs)
    reference_tokens = sum(ref.size for ref, _ in pairs)
    return {
        "phoneme/n": len(pairs),
        "phoneme/ref_tokens": int(reference_tokens),
        "phoneme/edits": int(edits),
        "phoneme/per": float(edits / reference_tokens),
    }


def _gender_metrics(pred: Predictions) -> dict[str, Any]:
    labelled = pred.gender_true != labels.MISSING
    if pred.gender_prob is None or not labelled.any():
        return {}
    true = pred.gender_true[labelled]
    return {
        "gender/n": int(labelled.sum()),
        "gender/accuracy": float(np.mean(pred.gender_prob[labelled].argmax(-1) == true)),
        "gender/degenerate": bool(np.unique(true).size < 2),
    }


def _eq_metrics(pred: Predictions, scales: Sequence[int], num_categories: int, neutral: int | None
                ) -> dict[str, Any]:
    """EQ@k of one corpus at each of its supported scales, and their mean EQ."""
    if pred.category_prob is None:
        return {}
    out: dict[str, Any] = {}
    predicted_category = pred.category_prob.argmax(-1)
    # At k = 1 every intensity falls in bin 0, so EQ@1 needs no intensity head.
    predicted_intensity = pred.intensity_pred if pred.intensity_pred is not None else np.zeros(pred.size)
    for k in scales:
        labelled = pred.category_true != labels.MISSING
        if k > 1:
            if pred.intensity_pred is None:
                continue
            labelled &= pred.intensity_true != labels.MISSING
        if not labelled.any():
            continue
        true_joint = labels.joint_label(pred.category_true[labelled], pred.intensity_true[labelled], k, neutral)
        pred_joint = labels.joint_label(predicted_category[labelled], predicted_intensity[labelled], k, neutral)
        out[f"eq@{k}/n"] = int(labelled.sum())
        out[f"eq@{k}"] = unweighted_accuracy(confusion_matrix(true_joint, pred_joint, num_categories * k))
    scores = [out[f"eq@{k}"] for k in scales if f"eq@{k}" in out]
    if scores:
        out["eq"] = float(np.mean(scores))
    return out


def _group_metrics(pred: Predictions, categories: Sequence[str], eq_scales: Sequence[int]) -> dict[str, Any]:
    neutral = categories.index("neutral") if "neutral" in categories else None
    out: dict[str, Any] = {"n": pred.size, "speakers": int(np.unique(pred.speaker).size)}
    out.update(_category_metrics(pred, categories))
    out.update(_intensity_metrics(pred, neutral))
    out.update(_phoneme_metrics(pred))
    out.update(_gender_metrics(pred))
    out.update(_eq_metrics(pred, eq_scales, len(categories), neutral))
    return out


def _overall_eq(per_corpus: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Unweighted means of per-corpus EQ@k and EQ (see the module docstring)."""
    out: dict[str, Any] = {}
    for key in [f"eq@{k}" for k in labels.EQ_SCALES] + ["eq"]:
        reporting = [group for group in per_corpus.values() if key in group]
        if reporting:
            out[key] = float(np.mean([group[key] for group in reporting]))
            if key != "eq":
                out[f"{key}/n"] = int(sum(group[f"{key}/n"] for group in reporting))
    return out


def compute_metrics(pred: Predictions, categories: Sequence[str] = labels.CATEGORIES) -> dict[str, Any]:
    """All metrics of one evaluation, per corpus and overall.

    Args:
      pred: the gathered predictions; category ids index `categories`.
      categories: the run's category label set (`DataSpec.categories`), in
        taxonomy order; the category head's C outputs are these classes.
    Returns:
      {"overall": group, "corpora": {corpus: group}}, each group a flat dict of
      keys such as "n", "category/ua", "intensity/ccc", "phoneme/per",
      "gender/accuracy", "eq@2", "eq" (see the module docstring).
    """
    categories = tuple(categories)
    unknown = [c for c in categories if c not in labels.CATEGORY_INDEX]
    if not categories or unknown:
        raise ValueError(f"categories={categories}; expected a non-empty subset of {labels.CATEGORIES}")
    if pred.category_prob is not None and pred.category_prob.shape[1] != len(categories):
        raise ValueError(f"category_prob has {pred.category_prob.shape[1]} columns, the label set "
                         f"{categories} has {len(categories)}")
    if (pred.category_true >= len(categories)).any():
        raise ValueError(f"category_true has id {pred.category_true.max()}, outside the label set {categories}")
    per_corpus = {
        corpus: _group_metrics(pred.select(pred.corpus == corpus), categories, registry.get(corpus).labels.supported_scales)
        for corpus in sorted(set(pred.corpus.tolist()))
    }
    overall = _group_metrics(pred, categories, eq_scales=())
    overall.update(_overall_eq(per_corpus))
    return {"overall": overall, "corpora": per_corpus}


def _combine(key: str, values: list[Any]) -> Any:
    """Pools one key over folds: counts add, flags OR, confusions add, metrics average."""
    if all(isinstance(v, bool) for v in values):
        return any(values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return sum(values)
    if all(isinstance(v, float) for v in values):
        return float(np.mean(values))
    if all(isinstance(v, dict) and "matrix" in v for v in values):
        if any(v["labels"] != values[0]["labels"] for v in values):
            raise ValueError(f"aggregate_folds: {key} has different labels across folds")
        return {"labels": values[0]["labels"], "matrix": np.sum([v["matrix"] for v in values], axis=0).tolist()}
    kinds = sorted({type(v).__name__ for v in values})
    raise ValueError(f"aggregate_folds: {key} mixes value types across folds: {kinds}")


def _aggregate_group(groups: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, float], dict[str, int]]:
    mean: dict[str, Any] = {}
    std: dict[str, float] = {}
    fold_count: dict[str, int] = {}
    keys = list(dict.fromkeys(key for group in groups for key in group))
    for key in keys:
        values = [group[key] for group in groups if key in group]
        mean[key] = _combine(key, values)
        if isinstance(mean[key], float):
            std[key] = float(np.std(values))
            fold_count[key] = len(values)
    return mean, std, fold_count


def aggregate_folds(folds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std of every metric over the folds of a cross-validation.

    A metric is averaged over the folds that report it (in a leave-one-speaker-
    out protocol a corpus may be tested in only some folds); `fold_count` says
    how many. The std is the population std (ddof=0) of the fold values.
    Counts and confusion matrices are summed (folds test disjoint examples).

    Args:
      folds: compute_metrics outputs, one per fold.
    Returns:
      {"num_folds", "folds": the inputs, "mean", "std", "fold_count"}, where
      "mean" has compute_metrics' shape and "std"/"fold_count" hold the float
      metrics only.
    """
    if not folds:
        raise ValueError("aggregate_folds needs at least one fold")
    sections: dict[str, dict[str, Any]] = {name: {"corpora": {}} for name in ("mean", "std", "fold_count")}
    for name in ["overall"] + sorted({corpus for fold in folds for corpus in fold["corpora"]}):
        groups = [group for group in (_group_of(fold, name) for fold in folds) if group is not None]
        for section, values in zip(sections.values(), _aggregate_group(groups)):
            if name == "overall":
                section["overall"] = values
            else:
                section["corpora"][name] = values
    return {"num_folds": len(folds), "folds": list(folds), **sections}


def _group_of(metrics: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The "overall" group or one corpus's group of a compute_metrics output, if present."""
    return metrics["overall"] if name == "overall" else metrics["corpora"].get(name)
