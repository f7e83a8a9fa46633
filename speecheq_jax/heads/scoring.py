"""Host-side scores the heads' metric functions (and EQ) share: confusion, WA, UA, macro-F1, CCC.

Numpy only, float64, so they are tested against independent implementations (scikit-learn, hand
computations) and never compile. Definitions:

* WA = accuracy; UA = mean recall over the classes present in the truth; macro-F1 = mean F1 over
  the classes present in the truth OR the predictions (scikit-learn's default), so predicting a
  class a corpus lacks costs F1.
* CCC = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), population moments; None when
  undefined (fewer than 2 examples, zero denominator).
"""

from __future__ import annotations

from typing import Any

import numpy as np


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


def concordance_terms(x: Any, y: Any, weights: Any, xp: Any = np) -> tuple[Any, Any]:
    """Lin's CCC of x and y [N] over the examples weighted 1 in `weights` [N], as (numerator, denominator).

    Population moments: 2 cov(x, y) / (var x + var y + (mean x - mean y)^2). `xp` is numpy or
    jax.numpy, so the host metric and the differentiable loss (`masked_losses.regression_loss`)
    share one definition; each decides what an empty or constant group gives.
    """
    n = xp.maximum(xp.sum(weights), 1.0)
    mean_x, mean_y = xp.sum(weights * x) / n, xp.sum(weights * y) / n
    var_x = xp.sum(weights * (x - mean_x) ** 2) / n
    var_y = xp.sum(weights * (y - mean_y) ** 2) / n
    covariance = xp.sum(weights * (x - mean_x) * (y - mean_y)) / n
    return 2.0 * covariance, var_x + var_y + (mean_x - mean_y) ** 2


def concordance_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Lin's concordance correlation coefficient of float [N] x and y, None if undefined."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return None
    numerator, denominator = concordance_terms(x, y, np.ones_like(x))
    return float(numerator / denominator) if denominator > 0 else None
