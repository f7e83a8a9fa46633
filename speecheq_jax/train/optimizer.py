"""AdamW with linear warm-up and cosine decay, global-norm clipping, accumulation.

Weight decay applies to the weight matrices only: the parameters NAMED
`kernel` (every Linear and Conv kernel). Biases, norm scales, the attention's
content and position biases (u, v) and the uncertainty log-variances are not
decayed: pulling them towards zero has no regularising meaning. The rule is by
name, not by rank, so it stays right when a layer stack's parameters carry a
leading layer axis (a stacked LayerNorm scale is [L, D], stacked u/v are
[L, H, Dh]: a rank rule would decay them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
import optax

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


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """The run's gradient transformation; `optim.accumulate` > 1 averages that many micro-batches."""
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
    return tx
