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
        'corpus' and 'speaker'.
    Returns:
      (Predictions over the real examples in record order, mean loss per task).
    """
    rows: list[dict] = []
    loss_sums: dict[str, float] = {}
    for batch in tqdm(batches, desc=desc, unit="batch", leave=False):
        outputs, sums = eval_step(state, batch)
        host = _to_host({"outputs": outputs, "batch": {k: batch[k] for k in _LABEL_KEYS}})
        rows.extend(_batch_rows(host["outputs"], host["batch"]))
        for key, value in jax.device_get(sums).items():
            loss_sums[key] = loss_sums.get(key, 0.0) + float(value)
    if not rows:
        raise ValueError(f"{desc}: the split has no examples")
    rows.sort(key=lambda r: r["index"])
    indices = [r["index"] for r in rows]
    if len(set(indices)) != len(indices):
        raise AssertionError(f"{desc}: an example was evaluated twice")
    tasks = [k[len("count_"):] for k in loss_sums if k.startswith("count_")]
    losses = {t: loss_sums[f"loss_{t}"] / max(loss_sums[f"count_{t}"], 1.0) for t in tasks}
    return _predictions(rows, records), losses


_LABEL_KEYS = ("category", "category_mask", "intensity", "intensity_mask", "gender", "gender_mask",
               "phonemes", "phoneme_mask", "example_mask", "index")


def _batch_rows(outputs: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> list[dict]:
    """One dict per real example of a host batch; ragged phoneme sequences become lists here."""
    keep = np.flatnonzero(batch["example_mask"])
    decoded = None
    if "phoneme_ids" in outputs:
        decoded = ctc_greedy_decode(outputs["phoneme_ids"][keep], outputs["out_mask"][keep])
    rows = []
    for j, i in enumerate(keep):
        row = {
            "index": int(batch["index"][i]),
            "category": int(batch["category"][i]) if batch["category_mask"][i] else -1,
            "intensity": float(batch["intensity"][i]) if batch["intensity_mask"][i] else -1.0,
            "gender": int(batch["gender"][i]) if batch["gender_mask"][i] else -1,
            "phoneme_true": batch["phonemes"][i][batch["phoneme_mask"][i]].tolist(),
        }
        for key in ("category_prob", "intensity", "gender_prob"):
            if key in outputs:
                row[f"out/{key}"] = outputs[key][i]
        if decoded is not None:
            row["phoneme_pred"] = decoded[j]
        rows.append(row)
    return rows


def _predictions(rows: list[dict], records: Sequence[dict]) -> Predictions:
    """Per-example host rows (record order) -> the metrics' Predictions record."""
    meta = [records[r["index"]] for r in rows]

    def stacked(key: str) -> np.ndarray | None:
        return np.stack([r[key] for r in rows]) if key in rows[0] else None

    return Predictions(
        corpus=np.array([m["corpus"] for m in meta]),
        speaker=np.array([m["speaker"] for m in meta]),
        category_true=np.array([r["category"] for r in rows]),
        category_prob=stacked("out/category_prob"),
        intensity_true=np.array([r["intensity"] for r in rows]),
        intensity_pred=stacked("out/intensity"),
        gender_true=np.array([r["gender"] for r in rows]),
        gender_prob=stacked("out/gender_prob"),
        phoneme_true=[r["phoneme_true"] for r in rows],
        phoneme_pred=[r["phoneme_pred"] for r in rows] if "phoneme_pred" in rows[0] else None,
    )


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
