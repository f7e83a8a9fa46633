"""The run's loss: every configured head's masked loss (its spec, speecheq_jax/heads/), combined.

Each head's loss is averaged over the examples of the GLOBAL batch that carry its label, with
masked labels removed by `where` (heads/masked_losses.py), then scaled per head.

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
import ml_collections

from speecheq_jax.frames import route_of
from speecheq_jax.heads import head_names, head_specs
from speecheq_jax.heads.contract import LossOptions
from speecheq_jax.model.speecheq import ModelOutput

TOTALS_KEY = "label_totals"
"""Optional Batch field, float32 [B, len(head_names())]: every row holds the labelled count per task (head_names()
order) of the whole accumulation group the micro-batch belongs to (train/accumulation.py)."""


def loss_options(tasks: ml_collections.ConfigDict) -> LossOptions:
    """The heads' loss settings from `config.tasks`."""
    return LossOptions(label_smoothing=tasks.label_smoothing, intensity_loss=tasks.intensity_loss)


def label_counts(batch: dict[str, jax.Array]) -> jax.Array:
    """float32 [len(head_names())]: per task, the examples of `batch` its loss averages over (as `task_losses` counts)."""
    out_lengths = route_of(batch).encoder_frames(jnp.sum(batch["frame_mask"], axis=-1))
    return jnp.stack([spec.label_count(batch, out_lengths) for spec in head_specs(head_names())]).astype(jnp.float32)


def group_totals(batch: dict[str, jax.Array]) -> dict[str, jax.Array] | None:
    """Task -> labelled count of the micro-batch's accumulation group, or None when the batch has no TOTALS_KEY."""
    if TOTALS_KEY not in batch:
        return None
    totals = jnp.max(batch[TOTALS_KEY], axis=0)
    return {task: totals[i] for i, task in enumerate(head_names())}


def task_losses(output: ModelOutput, batch: dict[str, jax.Array], options: LossOptions = LossOptions()
                ) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Head name -> (mean loss, labelled count), for every head the model has, in registry order.

    Args:
      output: the model's ModelOutput.
      batch: the Batch dict (speecheq_jax.input.batch).
      options: the heads' loss settings (`loss_options(config.tasks)`).
    """
    return {spec.name: spec.loss(output.heads[spec.name], output.out_mask, batch, options)
            for spec in head_specs(output.heads)}


def task_weights(tasks: ml_collections.ConfigDict) -> dict[str, float]:
    """Head -> static loss weight: `tasks.weights[head]` where the config sets it, else the spec's default."""
    weights = dict(tasks.weights)
    return {spec.name: spec.default_weight if weights.get(spec.name) is None else float(weights[spec.name])
            for spec in head_specs()}


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
