"""When training must stop and save: SIGTERM on one process, JAX's preemption sync point on several."""

from __future__ import annotations

import logging
import signal
import threading

import jax
from jax.experimental import multihost_utils

log = logging.getLogger(__name__)


class Preemption:
    """Whether training must stop now: SIGTERM on one process, JAX's preemption sync point on several.

    One process: a SIGTERM handler only sets a flag (no work inside a signal handler); the loop reads
    it between steps. Several processes: each may get the notice at a different step, so they
    agree through `multihost_utils.reached_preemption_sync_point(step)`, which the loop calls at
    every step and which is True at the same step on every process; JAX's preemption sync
    manager (set up by `jax.distributed.initialize` while `jax_enable_preemption_service` is on,
    the default) listens for SIGTERM itself. With that service turned off nothing is installed and
    SIGTERM ends the processes as it would without this class. Use as a context manager around the
    training steps only: before the first step there is nothing to save, and after the last the
    default handler is back.
    """

    def __init__(self):
        self.multihost = jax.process_count() > 1
        self.enabled = not self.multihost or bool(jax.config.jax_enable_preemption_service)
        self._notified = threading.Event()
        self._previous = None

    def __enter__(self) -> "Preemption":
        if self.multihost and not self.enabled:
            log.warning("jax_enable_preemption_service is off: SIGTERM will stop training without a checkpoint")
        elif not self.multihost and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, lambda signum, frame: self._notified.set())
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def reached(self, step: int) -> bool:
        """Called once per step, on every process, after `step` ran: save at `step` and stop?"""
        if self.multihost:
            return self.enabled and multihost_utils.reached_preemption_sync_point(step)
        return self._notified.is_set()
