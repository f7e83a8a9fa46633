"""Per-task losses and their combination (per-task loss scaling).

Each task's loss is averaged over the examples of the GLOBAL batch that carry
its label (under jit over a sharded batch, `sum / count` is a global
reduction), so a device whose shard happens to hold no labelled example
changes nothing. A masked label contributes exactly zero to the loss and its
gradient: masked terms are removed with `where`, never multiplied by zero (an
infinite CTC term times zero would be NaN). All losses are float32.

A phoneme sequence that CTC cannot align in its example's encoder frames
(L + adjacent repeats > valid frames) has no CTC path: optax returns a huge
finite value (about 1e5) for it, which would swamp the phoneme loss. The
pipeline masks such labels; `ctc_loss` also leaves out any that reach it,
so that value can never enter the loss.

Combination (`combine`): static weights w_t from config, or learned
uncertainty weighting (Kendall et al., 2018): L = sum_t w_t (exp(-s_t) L_t + s_t)
over the tasks present in the batch, whose effective weight is w_t exp(-s_t).

Gradient accumulation (`optim.accumulate = K > 1`): the update must average
each task over ALL labelled examples of the K micro-batches, not average K
per-micro-batch means (a micro-batch with 2 labelled examples would weigh as
much as one with 30). The loop attaches to every micro-batch the labelled
counts N_t of its whole group (`TOTALS_KEY`, train/accumulation.py), and
`combine` scales micro-batch k's task mean by K n_t,k / N_t: optax.MultiSteps
averages the K gradients, so the update is the gradient of
sum_t w_t (sum of task-t losses over the group) / N_t, exactly as on the
concatenated batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from speecheq_jax.frames import SUBSAMPLING

TASKS: tuple[str, ...] = ("category", "intensity", "phoneme", "gender")
TOTALS_KEY = "label_totals"
"""Optional Batch field, float32 [B, len(TASKS)]: every row holds the labelled count per task (TASKS
order) of the whole accumulation group the micro-batch belongs to (train/accumulation.py)."""


def _masked_mean(values: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean of `values` [B] over `mask` [B]; (0, 0) when nothing is labelled."""
    count = jnp.sum(mask.astype(jnp.float32))
    total = jnp.sum(jnp.where(mask, values.astype(jnp.float32), 0.0))
    return total / jnp.maximum(count, 1.0), count


def classification_loss(logits: jax.Array, labels: jax.Array, mask: jax.Array,
                        label_smoothing: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """Cross-entropy of logits [B, C] against int labels [B] over mask [B]."""
    num_classes = logits.shape[-1]
    targets = optax.smooth_labels(jax.nn.one_hot(jnp.maximum(labels, 0), num_classes), label_smoothing)
    per_example = optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)
    return _masked_mean(per_example, mask)


def concordance_correlation(pred: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """CCC of pred and target [B] over mask [B] (population moments)."""
    weights = mask.astype(jnp.float32)
    n = jnp.maximum(jnp.sum(weights), 1.0)
    mean_p = jnp.sum(weights * pred) / n
    mean_t = jnp.sum(weights * target) / n
    var_p = jnp.sum(weights * (pred - mean_p) ** 2) / n
    var_t = jnp.sum(weights * (target - mean_t) ** 2) / n
    cov = jnp.sum(weights * (pred - mean_p) * (target - mean_t)) / n
    return 2.0 * cov / (var_p + var_t + (mean_p - mean_t) ** 2 + 1e-8)


def intensity_loss(pred: jax.Array, target: jax.Array, mask: jax.Array, kind: str = "mse") -> tuple[jax.Array, jax.Array]:
    """Intensity regression on [0, 1]: "mse", or "ccc" (1 - CCC over the batch)."""
    pred = pred.astype(jnp.float32)
    mse, count = _masked_mean((pred - target) ** 2, mask)
    if kind == "mse":
        return mse, count
    if kind == "ccc":
        return jnp.where(count > 1, 1.0 - concordance_correlation(pred, target, mask), 0.0), count
    raise ValueError(f"tasks.intensity_loss={kind!r}; expected 'mse' or 'ccc'")


def ctc_alignable(phonemes: jax.Array, phoneme_mask: jax.Array, out_lengths: jax.Array) -> jax.Array:
    """bool [B]: the example carries phonemes [B, L] that CTC can align in its out_lengths [B] frames.

    A CTC path needs one frame per token plus a blank between two equal
    adjacent tokens: L + repeats frames.
    """
    lengths = jnp.sum(phoneme_mask, axis=-1)
    repeats = jnp.sum(phoneme_mask[:, 1:] & phoneme_mask[:, :-1] & (phonemes[:, 1:] == phonemes[:, :-1]), axis=-1)
    return (lengths > 0) & (lengths + repeats <= out_lengths)


def ctc_loss(logits: jax.Array, out_mask: jax.Array, phonemes: jax.Array,
             phoneme_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """CTC per reference token, averaged over examples whose phonemes CTC can align.

    Args:
      logits: [B, T', V + 1] frame logits, blank at index 0.
      out_mask: [B, T'] valid encoder frames.
      phonemes: [B, L] ids 1..V.
      phoneme_mask: [B, L] valid tokens; an example with none, or with an
        unalignable sequence (`ctc_alignable`), is masked.
    """
    per_seq = optax.ctc_loss(
        logits.astype(jnp.float32), 1.0 - out_mask.astype(jnp.float32),
        phonemes, 1.0 - phoneme_mask.astype(jnp.float32), blank_id=0,
    )
    lengths = jnp.sum(phoneme_mask, axis=-1)
    per_token = per_seq / jnp.maximum(lengths, 1).astype(jnp.float32)
    return _masked_mean(per_token, ctc_alignable(phonemes, phoneme_mask, jnp.sum(out_mask, axis=-1)))


def label_counts(batch: dict[str, jax.Array]) -> jax.Array:
    """float32 [len(TASKS)]: per task, the examples of `batch` its loss averages over (as `task_losses` counts)."""
    out_lengths = (jnp.sum(batch["frame_mask"], axis=-1) + SUBSAMPLING - 1) // SUBSAMPLING
    counts = {
        "category": jnp.sum(batch["category_mask"]),
        "intensity": jnp.sum(batch["intensity_mask"]),
        "phoneme": jnp.sum(ctc_alignable(batch["phonemes"], batch["phoneme_mask"], out_lengths)),
        "gender": jnp.sum(batch["gender_mask"]),
    }
    return jnp.stack([counts[t] for t in TASKS]).astype(jnp.float32)


def group_totals(batch: dict[str, jax.Array]) -> dict[str, jax.Array] | None:
    """Task -> labelled count of the micro-batch's accumulation group, or None when the batch has no TOTALS_KEY."""
    if TOTALS_KEY not in batch:
        return None
    totals = jnp.max(batch[TOTALS_KEY], axis=0)
    return {task: totals[i] for i, task in enumerate(TASKS)}


def task_losses(output, batch: dict[str, jax.Array], *, label_smoothing: float = 0.0,
                intensity_kind: str = "mse") -> dict[str, tuple[jax.Array, jax.Array]]:
    """(mean loss, labelled count) for every task whose head the model has.

    Args:
      output: the model's ModelOutput (heads that are disabled are None).
      batch: the Batch dict (speecheq_jax.data.batch).
    """
    losses = {}
    if output.category_logits is not None:
        losses["category"] = classification_loss(
            output.category_logits, batch["category"], batch["category_mask"], label_smoothing)
    if output.intensity is not None:
        losses["intensity"] = intensity_loss(output.intensity, batch["intensity"], batch["intensity_mask"], intensity_kind)
    if output.phoneme_logits is not None:
        losses["phoneme"] = ctc_loss(output.phoneme_logits, output.out_mask, batch["phonemes"], batch["phoneme_mask"])
    if output.gender_logits is not None:
        losses["gender"] = classification_loss(output.gender_logits, batch["gender"], batch["gender_mask"], label_smoothing)
    return losses


def combine(losses: dict[str, tuple[jax.Array, jax.Array]], weights: dict[str, float],
            log_vars: dict[str, jax.Array] | None = None, *, totals: dict[str, jax.Array] | None = None,
            accumulate: int = 1) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total loss and each task's effective weight.

    Args:
      losses: task -> (mean loss, count) from `task_losses`.
      weights: task -> static weight w_t.
      log_vars: task -> learned s_t (uncertainty weighting), or None (static).
      totals: task -> labelled count N_t of the accumulation group (`group_totals`);
        None: the batch is the whole update (N_t = its own count).
      accumulate: the number K of micro-batches per update (used with `totals`).
    """
    total = jnp.zeros((), jnp.float32)
    effective = {}
    for task, (loss, count) in losses.items():
        if totals is None:
            scale, present = jnp.float32(1.0), (count > 0).astype(jnp.float32)
        else:
            scale = accumulate * count / jnp.maximum(totals[task], 1.0)
            present = (totals[task] > 0).astype(jnp.float32)
        if log_vars is None:
            effective[task] = jnp.asarray(weights[task], jnp.float32)
            total += effective[task] * scale * loss
        else:
            s = log_vars[task].astype(jnp.float32)
            effective[task] = weights[task] * jnp.exp(-s)
            total += present * (effective[task] * scale * loss + weights[task] * s)
    return total, effective
