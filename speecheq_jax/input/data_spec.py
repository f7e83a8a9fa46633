"""`DataSpec`: what the model, losses, reports and prediction need to know about a run's data.

It is derived once from the prepared datasets' metadata (`describe`), so
training, evaluation and prediction of the same config agree on it, and it is
written into the model card so prediction needs no dataset. This module
imports neither TFDS nor Grain: reading a model card must stay light.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from speecheq_jax.features import logmel
from speecheq_jax.frames import LOGMEL, FeatureLayout

if TYPE_CHECKING:
    from speecheq_jax.input.sources import RunSources


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What the model, losses and prediction need to know about the data.

    Attributes:
      vocab: run phoneme vocabulary; token vocab[i] has id i + 1 (0 = blank).
      categories: the run's category label set (`labels.run_label_set`):
        Batch category id i is categories[i]; the category head has
        len(categories) outputs, and metrics, reports and predictions list
        exactly these classes.
      corpora: corpus names in config order (Batch `corpus_id` indexes this).
      cmvn: corpus -> (mean [80], std [80]) applied to its log-mels.
      pooled_cmvn: (mean, std) over all corpora's training units, for raw audio.
      buckets: frame lengths of the batch shapes.
      label_summary: corpus -> {mapping, excluded, category_counts} applied at
        preparation: what a run's labels mean, logged with every run.
      layout: the feature route and per-frame shape of the Batches. The SSL route has no CMVN:
        `cmvn` is empty and `pooled_cmvn` two empty arrays.
    """

    vocab: tuple[str, ...]
    categories: tuple[str, ...]
    corpora: tuple[str, ...]
    cmvn: dict[str, tuple[np.ndarray, np.ndarray]]
    pooled_cmvn: tuple[np.ndarray, np.ndarray]
    buckets: tuple[int, ...]
    label_summary: dict[str, dict]
    layout: FeatureLayout = LOGMEL


def describe(sources: RunSources, buckets: Sequence[int]) -> DataSpec:
    """The DataSpec of opened sources batched into `buckets`; CMVN pooled over every training unit."""
    if sources.layout != LOGMEL:
        none = np.zeros(0, np.float32), np.zeros(0, np.float32)
        return DataSpec(vocab=sources.vocab, categories=sources.categories, corpora=sources.names, cmvn={},
                        pooled_cmvn=none, buckets=tuple(sorted(buckets)), layout=sources.layout,
                        label_summary={c.prepared.corpus: c.prepared.labels for c in sources.corpora})
    pooled = logmel.MelStats()
    for corpus in sources.corpora:
        for unit in corpus.fold["units"]["train"]:
            pooled = pooled.merge(logmel.MelStats.from_dict(corpus.prepared.units[unit]["cmvn"]))
    return DataSpec(
        vocab=sources.vocab,
        categories=sources.categories,
        corpora=sources.names,
        cmvn={c.prepared.corpus: (c.mean, c.std) for c in sources.corpora},
        pooled_cmvn=pooled.mean_std(),
        buckets=tuple(sorted(buckets)),
        label_summary={c.prepared.corpus: c.prepared.labels for c in sources.corpora},
    )
