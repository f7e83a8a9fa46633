"""Throughput and utilisation of the training steps between two log lines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil


class ThroughputWindow:
    """Wall time, CPU time and time spent waiting for the input pipeline since the last log.

    `data_wait` (share of wall time the loop waited in `next(train_iter)`) near 0 says the step,
    not the input, is the bottleneck; `cores_busy` (process CPU seconds per wall second) says how
    many of the machine's cores the run kept busy.
    """

    def __init__(self):
        self.process = psutil.Process()
        self.reset()

    def reset(self) -> None:
        self.start, self.cpu_start, self.data_wait = time.perf_counter(), self._cpu(), 0.0

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def next_batch(self, iterator: Iterator[Any]) -> Any:
        start = time.perf_counter()
        batch = next(iterator)
        self.data_wait += time.perf_counter() - start
        return batch

    def summarize(self, host: list[dict]) -> dict[str, float]:
        """Host metrics of the steps since the last log -> means, throughput and utilisation."""
        seconds = max(time.perf_counter() - self.start, 1e-9)
        keys = host[0].keys()
        out = {f"train/{k}": float(np.mean([m[k] for m in host]))
               for k in keys if not k.startswith(("frames", "examples"))}
        out["train/examples_per_s"] = sum(float(m["examples"]) for m in host) / seconds
        out["train/frames_per_s"] = sum(float(m["frames"]) for m in host) / seconds
        out["train/data_wait"] = self.data_wait / seconds
        out["train/cores_busy"] = (self._cpu() - self.cpu_start) / seconds
        return out
