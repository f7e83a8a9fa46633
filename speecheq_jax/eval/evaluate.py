"""The evaluation loop: run the eval step over a split, gather host predictions.

Each batch's outputs cross to the host once (this is a logging boundary);
padding examples (`example_mask` False) are removed, the CTC frame argmax is
greedy-decoded, and the record table of the split (`batch["index"]` -> id,
corpus, speaker) attaches names. `process_allgather` makes it multi-host
safe: every process sees the whole split's outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from tqdm import tqdm

from speecheq_jax.eval.ctc_decode import ctc_greedy_decode
from speecheq_jax.eval.metrics import Predictions, compute_metrics

Batch = dict[str, jax.Array]


def _to_host(tree):
    return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def gather_predictions(eval_step: Callable, state, batches: Iterable[Batch], records: Sequence[dict],
                       *, desc: str = "eval") -> tuple[Predictions, dict[str, float]]:
    """Runs `eval_step` over every batch of a split.

    Args:
      eval_step: jitted `(state, batch) -> (outputs, loss_sums)` (train.step).
      state: the train state.
      batches: the split's Batch iterator (every example exactly once).
      records: host table indexed by `batch["index"]`, each with at least
        'id', 'corpus' and 'speaker'.
    Returns:
      (Predictions over the real examples in record order, mean loss per task).
    """
    chunks: list[dict[str, np.ndarray]] = []
    loss_sums: dict[str, float] = {}
    for batch in tqdm(batches, desc=desc, unit="batch", leave=False):
        outputs, sums = eval_step(state, batch)
        host = _to_host({"outputs": outputs, "batch": {k: batch[k] for k in _LABEL_KEYS}})
        keep = host["batch"]["example_mask"]
        chunk = {f"out/{k}": v[keep] for k, v in host["outputs"].items()}
        chunk.update({k: v[keep] for k, v in host["batch"].items()})
        chunks.append(chunk)
        for key, value in jax.device_get(sums).items():
            loss_sums[key] = loss_sums.get(key, 0.0) + float(value)
    if not chunks:
        raise ValueError(f"{desc}: the split has no batches")
    data = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    order = np.argsort(data["index"], kind="stable")
    data = {k: v[order] for k, v in data.items()}
    if len(np.unique(data["index"])) != len(data["index"]):
        raise AssertionError(f"{desc}: an example was evaluated twice")
    losses = {k[len("loss_"):]: loss_sums[k] / max(loss_sums[f"count_{k[len('loss_'):]}"], 1.0)
              for k in loss_sums if k.startswith("loss_")}
    return _predictions(data, records), losses


_LABEL_KEYS = ("category", "category_mask", "intensity", "intensity_mask", "gender", "gender_mask",
               "phonemes", "phoneme_mask", "example_mask", "index")


def _predictions(data: dict[str, np.ndarray], records: Sequence[dict]) -> Predictions:
    """Host arrays of real examples -> the metrics' Predictions record."""
    rows = [records[i] for i in data["index"]]
    phoneme_true = [p[m].tolist() for p, m in zip(data["phonemes"], data["phoneme_mask"])]
    phoneme_pred = None
    if "out/phoneme_ids" in data:
        phoneme_pred = ctc_greedy_decode(data["out/phoneme_ids"], data["out/out_mask"])
    return Predictions(
        corpus=np.array([r["corpus"] for r in rows]),
        speaker=np.array([r["speaker"] for r in rows]),
        category_true=np.where(data["category_mask"], data["category"], -1),
        category_prob=data.get("out/category_prob"),
        intensity_true=np.where(data["intensity_mask"], data["intensity"], -1.0),
        intensity_pred=data.get("out/intensity"),
        gender_true=np.where(data["gender_mask"], data["gender"], -1),
        gender_prob=data.get("out/gender_prob"),
        phoneme_true=phoneme_true,
        phoneme_pred=phoneme_pred,
    )


def evaluate(eval_step: Callable, state, batches: Iterable[Batch], records: Sequence[dict],
             *, desc: str = "eval") -> tuple[dict, Predictions]:
    """Metrics dict (speecheq_jax.eval.metrics, plus 'loss' per task) and the predictions."""
    predictions, losses = gather_predictions(eval_step, state, batches, records, desc=desc)
    metrics = compute_metrics(predictions)
    metrics["loss"] = losses
    return metrics, predictions
