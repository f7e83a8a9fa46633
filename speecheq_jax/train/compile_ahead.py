"""Steps compiled ahead of time, once per batch shape, before the first batch arrives.

A `jax.jit` function compiles when it first meets a new input shape. With length buckets that
meant training stopped for a compile each time a new bucket came up, and every validation
compiled its own shapes. `CompiledStep` lowers and compiles the step for every bucket the run
declares, up front and in parallel (XLA compiles release the GIL), then dispatches each batch to
its executable by shape. A shape nobody declared (an evaluation bucket extended for an utterance
longer than the largest bucket) is compiled on first use and logged. With the persistent
compilation cache (`speecheq_jax.main`), a restarted or later run loads these executables from
disk instead of compiling again.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh
from tqdm import tqdm

from speecheq_jax.frames import LOGMEL, FeatureLayout, route_of
from speecheq_jax.heads import head_names
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import multitask_loss

log = logging.getLogger(__name__)
Shape = tuple  # (global batch size, frames, phoneme slots, FeatureLayout)


def bucket_shapes(batch_size: int, buckets: Iterable[int], layout: FeatureLayout = LOGMEL) -> list[Shape]:
    """The batch shapes the input pipeline produces for these frame buckets on `layout`'s route."""
    return [(batch_size, bucket, bucket // layout.route.subsampling, layout) for bucket in sorted(set(buckets))]


def abstract_batch(shape: Shape, mesh: Mesh, group_totals: bool = False) -> dict[str, jax.ShapeDtypeStruct]:
    """ShapeDtypeStructs of every Batch field for one bucket, sharded like real batches.

    `group_totals`: the batch also carries its accumulation group's label counts (`multitask_loss.TOTALS_KEY`,
    float32 [B, len(head_names())]), as training batches do when `optim.accumulate` > 1.
    """
    sharding = mesh_lib.batch_sharding(mesh)
    fields = dict(batch_lib.shapes(*shape))
    if group_totals:
        fields[multitask_loss.TOTALS_KEY] = ((shape[0], len(head_names())), np.float32)
    return {key: jax.ShapeDtypeStruct(field_shape, dtype, sharding=sharding)
            for key, (field_shape, dtype) in fields.items()}


def abstract_like(tree: Any) -> Any:
    """ShapeDtypeStructs (with shardings) of a pytree of arrays or of abstract arrays."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def _shape_of(batch: dict[str, jax.Array]) -> Shape:
    batch_size, frames = batch["frame_mask"].shape
    route = route_of(batch)
    return batch_size, frames, batch["phonemes"].shape[1], FeatureLayout(route, tuple(batch[route.key].shape[2:]))


class CompiledStep:
    """`step(state, batch)` served by one ahead-of-time executable per batch shape."""

    def __init__(self, jitted: Callable, abstract_state: Any, mesh: Mesh, name: str, *, group_totals: bool = False):
        self._jitted, self._state, self._mesh, self.name = jitted, abstract_like(abstract_state), mesh, name
        self._group_totals = group_totals
        self._executables: dict[Shape, Any] = {}

    def _compile(self, shape: Shape) -> Any:
        return self._jitted.lower(self._state, abstract_batch(shape, self._mesh, self._group_totals)).compile()

    def precompile(self, shapes: Iterable[Shape], *, show_progress: bool = True) -> float:
        """Compiles every shape not compiled yet, in parallel; returns the seconds it took."""
        todo = [s for s in dict.fromkeys(shapes) if s not in self._executables]
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 1)) as pool:
            futures = {pool.submit(self._compile, shape): shape for shape in todo}
            bar = tqdm(concurrent.futures.as_completed(futures), total=len(todo), unit="shape",
                       desc=f"compile {self.name}", disable=not show_progress or not todo)
            for future in bar:
                self._executables[futures[future]] = future.result()
        seconds = time.perf_counter() - start
        if todo:
            log.info("compiled %s for %d batch shape(s) %s in %.1f s", self.name, len(todo),
                     [s[1] for s in todo], seconds)
        return seconds

    def __call__(self, state: Any, batch: dict[str, jax.Array]) -> Any:
        shape = _shape_of(batch)
        if shape not in self._executables:
            log.info("%s: batch shape %s was not declared ahead; compiling it now", self.name, shape)
            self.precompile([shape], show_progress=False)
        return self._executables[shape](state, batch)
