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


def concordance_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Lin's concordance correlation coefficient of float [N] x and y, None if undefined."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return None
    covariance = np.mean((x - x.mean()) * (y - y.mean()))
    denominator = x.var() + y.var() + (x.mean() - y.mean()) ** 2
    return float(2.0 * covariance / denominator) if denominator > 0 else None
