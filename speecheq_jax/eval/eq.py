"""EQ: the joint score of the category and intensity heads (the one metric that names two heads).

EQ@k = UA over joint (category, intensity bin) labels (`labels.joint_label`, bins `ceil(k x) - 1`
on (0, 1], neutral one joint class), the predicted joint label being (argmax category, bin of the
predicted intensity). EQ@1 = category UA and needs no intensity head; EQ@k, k >= 2, counts the
examples with both labels. A corpus's EQ = mean of its EQ@k over its supported scales that have
examples. Overall EQ does not pool, because corpora support different scales: overall EQ@k is the
unweighted mean of the per-corpus EQ@k over the corpora that report it, overall EQ the unweighted
mean of the per-corpus EQ (each corpus weighs the same, whatever its size); overall eq@k/n is the
sum of those corpora's counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from speecheq_jax import labels
from speecheq_jax.eval.predictions import Predictions
from speecheq_jax.heads.scoring import confusion_matrix, unweighted_accuracy


def eq_metrics(pred: Predictions, scales: Sequence[int], num_categories: int, neutral: int | None
               ) -> dict[str, Any]:
    """EQ@k of one corpus at each of its supported scales, and their mean EQ."""
    category_prob = pred.predicted.get("category")
    if category_prob is None:
        return {}
    out: dict[str, Any] = {}
    category_true, intensity_true = pred.truth["category"], pred.truth["intensity"]
    intensity_pred = pred.predicted.get("intensity")
    predicted_category = category_prob.argmax(-1)
    # At k = 1 every intensity falls in bin 0, so EQ@1 needs no intensity head.
    predicted_intensity = intensity_pred if intensity_pred is not None else np.zeros(pred.size)
    for k in scales:
        labelled = category_true != labels.MISSING
        if k > 1:
            if intensity_pred is None:
                continue
            labelled &= intensity_true != labels.MISSING
        if not labelled.any():
            continue
        true_joint = labels.joint_label(category_true[labelled], intensity_true[labelled], k, neutral)
        pred_joint = labels.joint_label(predicted_category[labelled], predicted_intensity[labelled], k, neutral)
        out[f"eq@{k}/n"] = int(labelled.sum())
        out[f"eq@{k}"] = unweighted_accuracy(confusion_matrix(true_joint, pred_joint, num_categories * k))
    scores = [out[f"eq@{k}"] for k in scales if f"eq@{k}" in out]
    if scores:
        out["eq"] = float(np.mean(scores))
    return out


def overall_eq(per_corpus: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Unweighted means of per-corpus EQ@k and EQ (see the module docstring)."""
    out: dict[str, Any] = {}
    for key in [f"eq@{k}" for k in labels.EQ_SCALES] + ["eq"]:
        reporting = [group for group in per_corpus.values() if key in group]
        if reporting:
            out[key] = float(np.mean([group[key] for group in reporting]))
            if key != "eq":
                out[f"{key}/n"] = int(sum(group[f"{key}/n"] for group in reporting))
    return out
