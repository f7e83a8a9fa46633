"""Per-task losses and their combination (per-task loss scaling).

Each task's loss is averaged over the examples of the GLOBAL batch that carry
its label (under jit over a sharded batch, `sum / count` is a global
reduction), so a device whose shard happens to hold no labelled example
changes nothing. A masked label contributes exactly zero to the loss and its
gradient: masked terms are removed with `where`, never multiplied by zero (an
infinite CTC term times zero would be NaN). All losses are float32.

Combination (`combine`): static weights w_t from config, or learned
uncertainty weighting (Kendall et al., 2018): L = sum_t w_t (exp(-s_t) L_t + s_t)
over the tasks present in the batch, whose effective weight is w_t exp(-s_t).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

TASKS: tuple[str, ...] = ("category", "intensity", "phoneme", "gender")


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


def ctc_loss(logits: jax.Array, out_mask: jax.Array, phonemes: jax.Array,
             phoneme_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """CTC per reference token, averaged over examples that carry phonemes.

    Args:
      logits: [B, T', V + 1] frame logits, blank at index 0.
      out_mask: [B, T'] valid encoder frames.
      phonemes: [B, L] ids 1..V.
      phoneme_mask: [B, L] valid tokens; an example with none is masked.
    """
    per_seq = optax.ctc_loss(
        logits.astype(jnp.float32), 1.0 - out_mask.astype(jnp.float32),
        phonemes, 1.0 - phoneme_mask.astype(jnp.float32), blank_id=0,
    )
    lengths = jnp.sum(phoneme_mask, axis=-1)
    per_token = per_seq / jnp.maximum(lengths, 1).astype(jnp.float32)
    return _masked_mean(per_token, lengths > 0)


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
            log_vars: dict[str, jax.Array] | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total loss and each task's effective weight.

    Args:
      losses: task -> (mean loss, count) from `task_losses`.
      weights: task -> static weight w_t.
      log_vars: task -> learned s_t (uncertainty weighting), or None (static).
    """
    total = jnp.zeros((), jnp.float32)
    effective = {}
    for task, (loss, count) in losses.items():
        present = (count > 0).astype(jnp.float32)
        if log_vars is None:
            effective[task] = jnp.asarray(weights[task], jnp.float32)
            total += effective[task] * loss
        else:
            s = log_vars[task].astype(jnp.float32)
            effective[task] = weights[task] * jnp.exp(-s)
            total += present * (effective[task] * loss + weights[task] * s)
    return total, effective
