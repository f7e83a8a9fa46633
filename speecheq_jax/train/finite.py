"""The NaN/Inf check of host training metrics: training stops, naming the step and the last good checkpoint."""

from __future__ import annotations

import numpy as np

from speecheq_jax import storage


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or Inf; the message names the step and the last good checkpoint."""


def check_finite(host_metrics: list[dict], first_step: int, last_good: int | None, workdir: storage.AnyPath) -> None:
    """Raises NonFiniteLossError at the first step whose metrics hold a NaN or Inf.

    `host_metrics[i]` are the host metrics of step `first_step + i`; `last_good` is the step of the
    newest checkpoint under `workdir` (None: none saved yet).
    """
    for offset, metrics in enumerate(host_metrics):
        bad = {k: float(v) for k, v in metrics.items() if not np.isfinite(v)}
        if bad:
            where = f"step {last_good} in {workdir / 'checkpoints'}" if last_good else "none saved yet"
            raise NonFiniteLossError(
                f"non-finite training metrics at step {first_step + offset}: {bad}. "
                f"Training stopped; last good checkpoint: {where}.")
