"""Evaluation metrics: a `Predictions` record -> plain numbers, per corpus and overall.

The evaluation loop runs the model and gathers a `Predictions` record (padding already removed);
`compute_metrics` turns it into a JSON-able dict. Each head's metrics come from its spec's metric
function (speecheq_jax/heads/<head>.py, where its definitions and counted examples are written);
EQ, the joint category x intensity score, from eval/eq.py. Everything here is numpy, so it is
tested against independent implementations (scikit-learn, hand computations) and never compiles.

Which examples count (a label of -1, or an empty phoneme sequence, is masked):

| key prefix         | examples                                                   |
|--------------------|------------------------------------------------------------|
| category/*         | category labelled                                          |
| intensity/n, mae,  | intensity labelled (neutral included, at 0), of a corpus   |
| ccc                | whose labelled intensities here are not all 0              |
| intensity/native_* | corpus has a categorical scale (its CorpusLabels.intensity_levels) |
|                    | category labelled and not neutral, intensity labelled      |
| phoneme/*          | reference phoneme sequence not empty                       |
| gender/*           | gender labelled                                            |
| eq@1               | = category/ua (category labelled)                          |
| eq@k, k >= 2       | category AND intensity labelled, k in supported_scales     |

Category ids are indexes into the run's label set (`categories`, default the whole taxonomy): the
confusion matrix lists exactly those classes. OVERALL: every metric except EQ pools all examples
(EQ: eval/eq.py). A metric without examples is absent, never NaN; counts are ints, flags bools,
metrics floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from speecheq_jax import labels
from speecheq_jax.corpora import registry
from speecheq_jax.eval.eq import eq_metrics, overall_eq
from speecheq_jax.eval.predictions import Predictions
from speecheq_jax.heads import head_specs
from speecheq_jax.heads.contract import MetricGroup


def _group_metrics(pred: Predictions, categories: tuple[str, ...], eq_scales: Sequence[int]) -> dict[str, Any]:
    neutral = categories.index("neutral") if "neutral" in categories else None
    group = MetricGroup(corpus=pred.corpus, truth=pred.truth, categories=categories, neutral=neutral)
    out: dict[str, Any] = {"n": pred.size, "speakers": int(np.unique(pred.speaker).size)}
    for spec in head_specs(pred.predicted):
        out.update(spec.metrics(pred.truth[spec.name], pred.predicted[spec.name], group))
    out.update(eq_metrics(pred, eq_scales, len(categories), neutral))
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
    missing = [name for name in pred.predicted if name not in pred.truth]
    if missing:
        raise ValueError(f"Predictions has predictions but no truth for head(s) {missing}")
    per_corpus = {
        corpus: _group_metrics(pred.select(pred.corpus == corpus), categories, registry.get(corpus).labels.supported_scales)
        for corpus in sorted(set(pred.corpus.tolist()))
    }
    overall = _group_metrics(pred, categories, eq_scales=())
    overall.update(overall_eq(per_corpus))
    return {"overall": overall, "corpora": per_corpus}
