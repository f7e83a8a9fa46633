"""The intensity head: emotion intensity on [0, 1] (utterance regression).

Model: attentive statistics -> MLP -> one logit -> sigmoid, [B]. Loss: `tasks.intensity_loss`,
"mse" or "ccc" (heads/masked_losses.py). Eval output `intensity` [B]. Prediction field: `intensity`.

Metrics count only corpora whose labelled intensities are not all 0: a corpus without an
intensity scale (CASIA, ESD, IEMOCAP without its arousal option) labels only its neutral
examples, at 0, and an error on them measures nothing about intensity. Over those examples: MAE;
CCC (absent for constant targets, where it would be 0 whatever was predicted); and native-scale
accuracy over the emotional, category-labelled examples of a corpus with a categorical scale
(its CorpusLabels.intensity_levels): the true level i of n is `labels.to_native_level`, the predicted
intensity is rounded to the nearest level and clipped to 1..n (an emotional example has no level 0).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from speecheq_jax import labels
from speecheq_jax.corpora import registry
from speecheq_jax.heads import masked_losses, scoring
from speecheq_jax.heads.contract import Column, HeadSpec, Kind, MetricGroup, scalar_label, utterance_label_count


def graded(true: np.ndarray, corpus: np.ndarray) -> np.ndarray:
    """bool [N]: intensity labelled, in a corpus whose labelled intensities are not all 0."""
    labelled = true != labels.MISSING
    graded_corpora = np.unique(corpus[labelled & (true > 0)])
    return labelled & np.isin(corpus, graded_corpora)


def _metrics(true: np.ndarray, predicted: np.ndarray, group: MetricGroup) -> dict[str, Any]:
    counted = graded(true, group.corpus)
    if not counted.any():
        return {}
    out: dict[str, Any] = {
        "intensity/n": int(counted.sum()),
        "intensity/mae": float(np.mean(np.abs(predicted[counted] - true[counted]))),
    }
    ccc = scoring.concordance_correlation(true[counted], predicted[counted]) if np.ptp(true[counted]) > 0 else None
    if ccc is not None:
        out["intensity/ccc"] = ccc
    levels = np.array([registry.get(c).labels.intensity_levels or 0 for c in group.corpus], dtype=np.int64)
    category = group.truth.get("category", np.full(len(true), labels.MISSING))
    emotional = (category != labels.MISSING) & (category != group.neutral)
    on_native_scale = counted & emotional & (levels > 0)
    if on_native_scale.any():
        n_levels = levels[on_native_scale]
        true_level = labels.to_native_level(true[on_native_scale], n_levels)
        pred_level = np.clip(labels.to_native_level(predicted[on_native_scale], n_levels), 1, n_levels)
        out["intensity/native_n"] = int(on_native_scale.sum())
        out["intensity/native_accuracy"] = float(np.mean(true_level == pred_level))
    return out


SPEC = HeadSpec(
    name="intensity",
    kind=Kind.UTTERANCE_REGRESSION,
    label="intensity",
    label_mask="intensity_mask",
    data=scalar_label(lambda utterance: utterance.intensity, float, dtype=np.float32),
    default_weight=1.0,
    output_size=lambda sizes: 1,
    activation=lambda logit: jax.nn.sigmoid(logit[:, 0]),
    loss=lambda pred, out_mask, batch, options: masked_losses.regression_loss(
        pred, batch["intensity"], batch["intensity_mask"], options.intensity_loss),
    label_count=utterance_label_count("intensity_mask"),
    eval_output="intensity",
    eval_transform=lambda pred: pred,
    metrics=_metrics,
    bad_truth=lambda true: (true != labels.MISSING) & ((true < 0.0) | (true > 1.0)),
    headline_columns=(Column("int. MAE", "intensity/mae", "intensity MAE"),
                      Column("int. CCC", "intensity/ccc", "intensity CCC"),
                      Column("native acc", "intensity/native_accuracy", "intensity native-scale accuracy")),
    count_columns=(Column("intensity", "intensity/n"), Column("native", "intensity/native_n")),
    record_fields=lambda value, card: {"intensity": round(float(value), 6)},
)
