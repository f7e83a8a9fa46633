"""The evaluation loop: run the eval step over a split, gather host predictions.

Each batch's outputs cross to the host once (this is a logging boundary);
padding examples (`example_mask` False) are removed, every head's truth and
predictions are taken by its spec (a CTC head's frame argmax is greedy-decoded),
and the record table of the split (`batch["index"]` -> id, corpus, speaker)
attaches names. `process_allgather` makes it multi-host safe: every process
sees the whole split's outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from tqdm import tqdm

from speecheq_jax.eval.metrics import compute_metrics
from speecheq_jax.eval.predictions import Predictions, take_rows
from speecheq_jax.heads import head_specs
from speecheq_jax.heads.contract import HostValues

Batch = dict[str, jax.Array]


def _to_host(tree):
    return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


class _Gathered:
    """Per-head host values of the real examples seen so far, batch by batch."""

    def __init__(self) -> None:
        self.index: list[np.ndarray] = []
        self.truth: dict[str, list[HostValues]] = {}
        self.predicted: dict[str, list[HostValues]] = {}

    def add(self, outputs: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> None:
        rows = np.flatnonzero(batch["example_mask"])
        self.index.append(batch["index"][rows].astype(np.int64))
        for spec in head_specs():
            if spec.label in batch:
                self.truth.setdefault(spec.name, []).append(spec.truth_from_batch(batch, rows))
            if spec.eval_output in outputs:
                self.predicted.setdefault(spec.name, []).append(spec.predictions_from_outputs(outputs, rows))

    def predictions(self, records: Sequence[dict], desc: str) -> Predictions:
        """Every example once, in record order, named from `records`."""
        index = np.concatenate(self.index) if self.index else np.zeros(0, np.int64)
        if index.size == 0:
            raise ValueError(f"{desc}: the split has no examples")
        if np.unique(index).size != index.size:
            raise AssertionError(f"{desc}: an example was evaluated twice")
        order = np.argsort(index, kind="stable")
        meta = [records[i] for i in index[order]]
        return Predictions(
            corpus=np.array([m["corpus"] for m in meta]),
            speaker=np.array([m["speaker"] for m in meta]),
            truth={name: take_rows(_joined(parts), order) for name, parts in self.truth.items()},
            predicted={name: take_rows(_joined(parts), order) for name, parts in self.predicted.items()},
        )


def _joined(parts: list[HostValues]) -> HostValues:
    if isinstance(parts[0], list):
        return [sequence for part in parts for sequence in part]
    return np.concatenate(parts, axis=0)


def gather_predictions(eval_step: Callable, state, batches: Iterable[Batch], records: Sequence[dict],
                       *, desc: str = "eval") -> tuple[Predictions, dict[str, float]]:
    """Runs `eval_step` over every batch of a split.

    Args:
      eval_step: jitted `(state, batch) -> (outputs, loss_sums)` (train.step).
      state: the train state.
      batches: the split's Batch iterator (every example exactly once).
      records: host table indexed by `batch["index"]`, each with at least
        'corpus' and 'speaker'.
    Returns:
      (Predictions over the real examples in record order, mean loss per task).
    """
    gathered = _Gathered()
    loss_sums: dict[str, float] = {}
    for batch in tqdm(batches, desc=desc, unit="batch", leave=False):
        outputs, sums = eval_step(state, batch)
        keys = ["example_mask", "index"] + [key for spec in head_specs() if spec.label in batch
                                            for key in (spec.label, spec.label_mask)]
        host = _to_host({"outputs": outputs, "batch": {k: batch[k] for k in keys}})
        gathered.add(host["outputs"], host["batch"])
        for key, value in jax.device_get(sums).items():
            loss_sums[key] = loss_sums.get(key, 0.0) + float(value)
    tasks = [k[len("count_"):] for k in loss_sums if k.startswith("count_")]
    losses = {t: loss_sums[f"loss_{t}"] / max(loss_sums[f"count_{t}"], 1.0) for t in tasks}
    return gathered.predictions(records, desc), losses


def evaluate(eval_step: Callable, state, batches: Iterable[Batch], records: Sequence[dict],
             *, categories: Sequence[str], desc: str = "eval") -> tuple[dict, Predictions]:
    """Metrics dict (speecheq_jax.eval.metrics, plus 'loss' per task) and the predictions.

    `categories` is the run's label set (`DataSpec.categories`): batch category
    ids and the category head's outputs index it.
    """
    predictions, losses = gather_predictions(eval_step, state, batches, records, desc=desc)
    metrics = compute_metrics(predictions, categories)
    metrics["loss"] = losses
    return metrics, predictions
