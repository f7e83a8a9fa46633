"""The category head: emotion category over the run's label set (utterance classification).

Model: attentive statistics -> MLP -> logits [B, C], C = len(DataSpec.categories). Loss:
cross-entropy with `tasks.label_smoothing`. Eval output `category_prob` [B, C] (softmax).
Metrics over the category-labelled examples: WA, UA, macro-F1 (heads/scoring.py) and the
confusion matrix over the label set. Prediction fields: `category`, `category_probs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from speecheq_jax import labels
from speecheq_jax.heads import scoring
from speecheq_jax.heads.contract import Column, MetricGroup, OutputSizes, RunTables, classification_spec, scalar_label


def _output_size(sizes: OutputSizes) -> int:
    if sizes.num_categories < 1:
        raise ValueError("model.heads has 'category' but the run's corpora hold no category label")
    return sizes.num_categories


def _to_run(taxonomy_id: int, tables: RunTables) -> tuple[int, None]:
    """Taxonomy id -> id in the run's label set (MISSING: a class this run does not have, masked)."""
    return (int(tables.category[taxonomy_id]) if taxonomy_id >= 0 else labels.MISSING), None


def _metrics(true: np.ndarray, probs: np.ndarray, group: MetricGroup) -> dict[str, Any]:
    categories = group.categories
    if probs.shape[1] != len(categories):
        raise ValueError(f"category predictions have {probs.shape[1]} columns, the label set "
                         f"{categories} has {len(categories)}")
    if (true >= len(categories)).any():
        raise ValueError(f"category truth has id {true.max()}, outside the label set {categories}")
    labelled = true != labels.MISSING
    if not labelled.any():
        return {}
    confusion = scoring.confusion_matrix(true[labelled], probs[labelled].argmax(-1), len(categories))
    return {
        "category/n": int(labelled.sum()),
        "category/wa": scoring.weighted_accuracy(confusion),
        "category/ua": scoring.unweighted_accuracy(confusion),
        "category/macro_f1": scoring.macro_f1(confusion),
        "category/confusion": {"labels": list(categories), "matrix": confusion.tolist()},
    }


SPEC = classification_spec(
    "category",
    data=scalar_label(lambda utterance: utterance.category, labels.CATEGORY_INDEX.__getitem__, dtype=np.int32,
                      to_run=_to_run),
    default_weight=1.0,
    output_size=_output_size,
    class_names=lambda card: card["labels"]["categories"],
    metrics=_metrics,
    bad_truth=lambda true: true < labels.MISSING,
    headline_columns=(Column("WA", "category/wa", "category WA"), Column("UA", "category/ua", "category UA"),
                      Column("macro-F1", "category/macro_f1", "category macro-F1")),
    count_columns=(Column("category", "category/n"),),
)
