"""The compiled train and eval steps.

One `jax.jit` function per step kind, with explicit in/out shardings and the
train state donated, so the update happens in place on every device. The
step is pure: (state, batch) -> (state, metrics); dropout randomness comes
from `fold_in(seed, optimizer step)`, so a resumed run draws the same masks.
Metrics stay on device; the loop fetches them only at logging boundaries.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx
from jax.sharding import Mesh

from speecheq_jax.model.speecheq import prediction_outputs
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import multitask_loss as losses_lib
from speecheq_jax.train.state import TrainState, model_output

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def _loss_and_metrics(trainable, batch: Batch, config: ml_collections.ConfigDict):
    """Forward pass, per-task losses, their combination, and scalar metrics."""
    output = model_output(trainable.model, batch)
    task = losses_lib.task_losses(output, batch, losses_lib.loss_options(config.tasks))
    log_vars = trainable.log_vars.as_dict() if trainable.log_vars is not None else None
    total, effective = losses_lib.combine(task, losses_lib.task_weights(config.tasks), log_vars,
                                          totals=losses_lib.group_totals(batch), accumulate=config.optim.accumulate)
    metrics = {"loss": total}
    for name, (loss, count) in task.items():
        metrics[f"loss_{name}"] = loss
        metrics[f"count_{name}"] = count
        metrics[f"weight_{name}"] = effective[name]
    return total, (metrics, output)


def make_train_step(train_state: TrainState, config: ml_collections.ConfigDict, mesh: Mesh
                    ) -> Callable[[nnx.State, Batch], tuple[nnx.State, Metrics]]:
    """Jitted `(state, batch) -> (state, metrics)`; `state` is donated."""
    seed = jax.random.key(config.seed)

    def step(state: nnx.State, batch: Batch) -> tuple[nnx.State, Metrics]:
        trainable, optimizer = nnx.merge(train_state.train_def, state)
        nnx.reseed(trainable, dropout=jax.random.fold_in(seed, optimizer.step[...]))
        grad_fn = nnx.value_and_grad(lambda t: _loss_and_metrics(t, batch, config), has_aux=True)
        (_, (metrics, _)), grads = grad_fn(trainable)
        metrics["grad_norm"] = optax.tree.norm(grads)
        metrics["frames"] = jnp.sum(batch["frame_mask"], dtype=jnp.float32)
        metrics["examples"] = jnp.sum(batch["example_mask"], dtype=jnp.float32)
        optimizer.update(trainable, grads)
        return nnx.state((trainable, optimizer)), metrics

    return jax.jit(
        step,
        in_shardings=(train_state.shardings, mesh_lib.batch_sharding(mesh)),
        out_shardings=(train_state.shardings, mesh_lib.replicated(mesh)),
        donate_argnums=0,
    )


def make_eval_step(train_state: TrainState, config: ml_collections.ConfigDict, mesh: Mesh
                   ) -> Callable[[nnx.State, Batch], tuple[dict[str, jax.Array], Metrics]]:
    """Jitted `(state, batch) -> (per-example outputs, loss sums)` in eval mode.

    Per-example outputs ([B, ...], sharded like the batch): each head's eval
    output (`model.speecheq.prediction_outputs`: category_prob [B, C],
    intensity [B], phoneme_ids [B, T'] (frame argmax for greedy CTC),
    gender_prob [B, 2]) for the heads that exist, and out_mask [B, T'].
    Loss sums are `loss x count` per task, so validation losses average
    exactly over a whole split.
    """

    def step(state: nnx.State, batch: Batch):
        trainable, _ = nnx.merge(train_state.eval_def, state)
        _, (metrics, output) = _loss_and_metrics(trainable, batch, config)
        sums = {}
        for key in list(metrics):
            if key.startswith("count_"):
                name = key[len("count_"):]
                sums[f"loss_{name}"] = metrics[f"loss_{name}"] * metrics[key]
                sums[key] = metrics[key]
        return prediction_outputs(output), sums

    return jax.jit(
        step,
        in_shardings=(train_state.shardings, mesh_lib.batch_sharding(mesh)),
        out_shardings=(mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)),
    )
