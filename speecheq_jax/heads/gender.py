"""The gender head: F/M from the voice (utterance classification over labels.GENDERS, auxiliary).

Model: attentive statistics -> MLP -> logits [B, 2]. Loss: cross-entropy with
`tasks.label_smoothing`. Eval output `gender_prob` [B, 2]. Metrics over the gender-labelled
examples: accuracy, and `degenerate` when the truth holds one gender only (an accuracy that says
little; the report marks it †). Prediction fields: `gender`, `gender_probs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from speecheq_jax import labels
from speecheq_jax.heads.contract import Column, MetricGroup, classification_spec, scalar_label


def _metrics(true: np.ndarray, probs: np.ndarray, group: MetricGroup) -> dict[str, Any]:
    if probs.shape[1] != len(labels.GENDERS):
        raise ValueError(f"gender predictions have {probs.shape[1]} columns, expected {len(labels.GENDERS)}")
    labelled = true != labels.MISSING
    if not labelled.any():
        return {}
    true = true[labelled]
    return {
        "gender/n": int(labelled.sum()),
        "gender/accuracy": float(np.mean(probs[labelled].argmax(-1) == true)),
        "gender/degenerate": bool(np.unique(true).size < 2),
    }


SPEC = classification_spec(
    "gender",
    data=scalar_label(lambda utterance: utterance.gender, labels.GENDER_INDEX.__getitem__, dtype=np.int32),
    default_weight=0.3,
    output_size=lambda sizes: len(labels.GENDERS),
    class_names=lambda card: card["labels"]["genders"],
    metrics=_metrics,
    bad_truth=lambda true: (true < labels.MISSING) | (true >= len(labels.GENDERS)),
    headline_columns=(Column("gender acc", "gender/accuracy", "gender accuracy", flag="gender/degenerate"),),
    count_columns=(Column("gender", "gender/n"),),
)
