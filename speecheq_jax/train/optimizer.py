"""AdamW with linear warm-up and cosine decay, global-norm clipping, accumulation.

Weight decay applies to the weight matrices only: the parameters NAMED
`kernel` (every Linear and Conv kernel). Biases, norm scales, the attention's
content and position biases (u, v) and the uncertainty log-variances are not
decayed: pulling them towards zero has no regularising meaning. The rule is by
name, not by rank, so it stays right when a layer stack's parameters carry a
leading layer axis (a stacked LayerNorm scale is [L, D], stacked u/v are
[L, H, Dh]: a rank rule would decay them).

Partial training (`make_optimizer`'s `trained_rows`, e.g. ssl/finetune.py): the optimizer then sees
only the trained part of the parameters, so frozen ones get zero updates and no optimizer state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from speecheq_jax.ssl.finetune import FROZEN

DECAYED_NAME = "kernel"


def _leaf_name(path: Sequence[Any]) -> str | None:
    """Name of a parameter from its pytree path: the last dict key (nnx wraps values in `.value`)."""
    keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]
    return str(keys[-1]) if keys else None


def weight_decay_mask(params: Any) -> Any:
    """Same pytree as `params` with True exactly on the leaves named `kernel`."""
    return jax.tree_util.tree_map_with_path(lambda path, _: _leaf_name(path) == DECAYED_NAME, params)


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """Peak `optim.lr` after `optim.warmup_steps`, cosine to `optim.final_lr_ratio` x peak.

    Counted in optimizer updates: `train.num_steps` micro-batches make
    `num_steps // optim.accumulate` updates.
    """
    total = max(int(config.train.num_steps) // int(config.optim.accumulate), 1)
    warmup = min(int(config.optim.warmup_steps), total - 1)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.optim.lr, warmup_steps=warmup,
        decay_steps=total, end_value=config.optim.lr * config.optim.final_lr_ratio,
    )


def train_only(tx: optax.GradientTransformation, trained_rows: Callable[[Any], Any]) -> optax.GradientTransformation:
    """tx restricted to the trained part of the parameters.

    trained_rows(params) is a pytree like params whose leaves are ints: FROZEN (the parameter gets zero
    updates and no optimizer state) or k >= 0 (rows k: of its leading axis are trained, 0 the whole
    parameter; the rows before get zero updates and no state: a layer stack trained from layer k up).
    tx (its clipping and weight decay included) sees the trained rows only.
    """

    def trained(tree: Any, rows: Any) -> Any:
        return jax.tree.map(lambda leaf, k: None if k == FROZEN else leaf[k:], tree, rows)

    def init(params: Any) -> optax.OptState:
        return tx.init(trained(params, trained_rows(params)))

    def update(updates: Any, state: optax.OptState, params: Any = None, **extra: Any) -> tuple[Any, optax.OptState]:
        rows = trained_rows(updates)
        part, state = tx.update(trained(updates, rows), state, None if params is None else trained(params, rows),
                                **extra)

        def full(gradient: jax.Array, k: int, update: jax.Array | None) -> jax.Array:
            if k == FROZEN:
                return jnp.zeros_like(gradient)
            return jnp.concatenate([jnp.zeros_like(gradient[:k]), update]) if k else update

        return jax.tree.map(full, updates, rows, part, is_leaf=lambda x: x is None), state

    return optax.GradientTransformationExtraArgs(init, update)


def make_optimizer(config: ml_collections.ConfigDict,
                   trained_rows: Callable[[Any], Any] | None = None) -> optax.GradientTransformation:
    """The run's gradient transformation; `optim.accumulate` > 1 averages that many micro-batches.

    trained_rows: None (every parameter trains) or `train_only`'s rule of the trained part.
    """
    tx = optax.chain(
        optax.clip_by_global_norm(config.optim.clip_norm),
        optax.adamw(
            learning_rate=learning_rate_schedule(config),
            b1=config.optim.b1, b2=config.optim.b2, eps=config.optim.eps,
            weight_decay=config.optim.weight_decay,
            mask=weight_decay_mask,
        ),
    )
    if config.optim.accumulate > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=config.optim.accumulate)
    return tx if trained_rows is None else train_only(tx, trained_rows)
