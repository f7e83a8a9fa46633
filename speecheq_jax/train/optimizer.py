"""AdamW with linear warm-up and cosine decay, global-norm clipping, accumulation.

Weight decay applies to matrices and kernels only (ndim >= 2): decaying
biases, norm scales and the uncertainty log-variances would pull them towards
zero for no reason.
"""

from __future__ import annotations

import jax
import ml_collections
import optax


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
            mask=lambda params: jax.tree.map(lambda p: p.ndim >= 2, params),
        ),
    )
    if config.optim.accumulate > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=config.optim.accumulate)
    return tx
