"""Gradient accumulation groups: K micro-batches per update, each told its group's label counts.

With `optim.accumulate = K > 1` every task must be averaged over all the
labelled examples of the K micro-batches of one update (see train/multitask_loss.py).
Those counts are only known once the whole group is read, so the loop reads
the K micro-batches of an update ahead and attaches to each the group's
per-task counts (`multitask_loss.TOTALS_KEY`) before stepping through them. The
iterator is then ahead of the step only inside a group, so checkpoints (taken
at validation) must fall on group boundaries: `check_schedule`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import ml_collections

from speecheq_jax.errors import ConfigError
from speecheq_jax.train import multitask_loss

Batch = dict[str, jax.Array]


def check_schedule(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError when validation or the last step would fall inside an accumulation group."""
    k = int(config.optim.accumulate)
    if k < 1:
        raise ConfigError(f"optim.accumulate = {k}; expected >= 1")
    for key in ("eval_every", "checkpoint_every", "num_steps"):
        if int(config.train[key]) % k:
            raise ConfigError(f"train.{key} = {config.train[key]} is not a multiple of optim.accumulate = {k}: "
                             "validation and checkpoints must fall on whole updates")


@functools.lru_cache(maxsize=None)
def _broadcaster(rows: int, sharding: jax.sharding.Sharding | None):
    """Jitted counts [len(HEAD_NAMES)] -> [rows, len(HEAD_NAMES)], laid out like the batch's other [B] fields."""
    return jax.jit(lambda totals: jnp.broadcast_to(totals, (rows, totals.shape[0])), out_shardings=sharding)


def _with_totals(batch: Batch, totals: jax.Array) -> Batch:
    mask = batch["example_mask"]
    return {**batch, multitask_loss.TOTALS_KEY: _broadcaster(mask.shape[0], getattr(mask, "sharding", None))(totals)}


_counts = jax.jit(multitask_loss.label_counts)


def grouped(batches: Iterator[Batch], accumulate: int) -> Iterator[Batch]:
    """The same micro-batches, each carrying its group's counts; `batches` unchanged when accumulate == 1.

    Training iterators are endless; a finite one ends at its last whole group.
    """
    if accumulate == 1:
        yield from batches
        return
    while len(group := list(itertools.islice(batches, accumulate))) == accumulate:
        totals = sum(_counts(batch) for batch in group)
        for batch in group:
            yield _with_totals(batch, totals)
