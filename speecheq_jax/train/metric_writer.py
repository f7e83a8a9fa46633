"""Where training metrics go: JSON lines, TensorBoard, and one console line.

metrics.jsonl beside TensorBoard event files (big_vision practice): the JSON
lines are what reports and plots read, TensorBoard is for watching a run.
Only host floats arrive here: the loop transfers device metrics at logging
boundaries and nowhere else.

A workdir in a bucket (gs://) gets metrics.jsonl (through `storage`) and no
TensorBoard files: tensorboardX's gs:// writer uploads its whole event file on
every flush through its own client, so it is left out with one log line; the
JSON lines hold the same numbers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import sys
from collections.abc import Iterator

from speecheq_jax import storage


@contextlib.contextmanager
def _torch_hidden() -> Iterator[None]:
    """Imports inside see no torch (unless it is loaded already); afterwards torch imports as usual.

    tensorboardX imports torch whenever it is installed (the SSL parity tests install it), and a
    process that loads torch's own gloo beside jaxlib's cannot open JAX's multi-process CPU
    collectives: tests/train/test_multihost.py fails with "Gloo context initialization failed"
    with torch importable and passes with it hidden. Scalars need no torch.
    """
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # `import torch` raises ImportError
    try:
        yield
    finally:
        if hide:
            del sys.modules["torch"]


with _torch_hidden():
    from tensorboardX import SummaryWriter

log = logging.getLogger(__name__)

_TB_ILLEGAL = re.compile(r"[^\w.\-/]")
"""Characters TensorBoard tag names may not hold (e.g. the '@' of 'eq@2')."""


class MetricWriter:
    """Appends `{"step": s, name: value, ...}` lines and TensorBoard scalars under `workdir`."""

    def __init__(self, workdir: storage.PathLike, *, enabled: bool = True):
        self.enabled = enabled
        self.path = storage.as_path(workdir) / "metrics.jsonl"
        self._tb = None
        if enabled and storage.is_remote(workdir):
            log.info("no TensorBoard files in %s (a bucket); metrics.jsonl holds the same scalars", workdir)
        elif enabled:
            self._tb = SummaryWriter(str(storage.as_path(workdir) / "tensorboard"))

    def write(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: float(v) for k, v in scalars.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        storage.append_line(self.path, json.dumps({"step": int(step), **clean}))
        if self._tb is None:
            return
        for name, value in clean.items():
            self._tb.add_scalar(_TB_ILLEGAL.sub("_", name), value, step)
        self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def format_line(step: int, scalars: dict[str, float], keys: tuple[str, ...]) -> str:
    """One readable console line with the chosen keys, e.g. 'step 100 | loss 1.234 | ...'."""
    parts = [f"step {step}"]
    for key in keys:
        if key in scalars:
            value = scalars[key]
            parts.append(f"{key.split('/')[-1]} {value:.4g}" if abs(value) < 1e4 else f"{key.split('/')[-1]} {value:.0f}")
    return " | ".join(parts)
