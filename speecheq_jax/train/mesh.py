"""Device mesh and the sharding rules of the run.

The batch is split along the mesh axis `data`; parameters and optimizer state
are replicated (data parallelism), or, for large models, FSDP-sharded by a
simple rule: a leaf with at least `fsdp_min_size` elements is split along its
largest axis that the `data` axis size divides. Axis types are Auto so that
XLA's sharding propagation handles the contractions (with Explicit axes,
sharded matmuls need every output sharding spelled out by hand).
"""

from __future__ import annotations

import math

import jax
import ml_collections
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(config: ml_collections.ConfigDict) -> Mesh:
    """Mesh from `config.mesh.shape` (-1 = all remaining devices) and `config.mesh.axes`.

    A shape without -1 may use fewer devices than the machine has (the first
    ones): e.g. (1,) evaluates a checkpoint trained on 8 devices on one.
    """
    shape = list(config.mesh.shape)
    axes = tuple(config.mesh.axes)
    if len(shape) != len(axes) or DATA_AXIS not in axes:
        raise ValueError(f"mesh.shape {shape} and mesh.axes {axes} must match in length and name {DATA_AXIS!r}")
    if shape.count(-1) > 1:
        raise ValueError(f"mesh.shape {shape} has more than one -1")
    num_devices = jax.device_count()
    if -1 in shape:
        shape[shape.index(-1)] = num_devices // math.prod(s for s in shape if s != -1)
    if not 0 < math.prod(shape) <= num_devices:
        raise ValueError(f"mesh.shape {shape} needs {math.prod(shape)} devices; this run has {num_devices}")
    devices = jax.devices()[: math.prod(shape)]
    return jax.make_mesh(tuple(shape), axes, axis_types=(AxisType.Auto,) * len(axes), devices=devices)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Sharding of every Batch field: leading (example) axis split over `data`."""
    return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def param_partition_spec(shape: tuple[int, ...], data_size: int, fsdp_min_size: int | None) -> P:
    """FSDP rule for one leaf: shard the largest divisible axis of a large leaf.

    Args:
      shape: the leaf's shape.
      data_size: number of devices along the `data` axis.
      fsdp_min_size: leaves with fewer elements stay replicated; None turns
        FSDP off (everything replicated).
    """
    if fsdp_min_size is None or data_size == 1 or math.prod(shape) < fsdp_min_size:
        return P()
    for axis in np.argsort(shape)[::-1]:
        if shape[axis] % data_size == 0:
            spec = [None] * len(shape)
            spec[axis] = DATA_AXIS
            return P(*spec)
    return P()


def state_shardings(abstract_state, mesh: Mesh, fsdp_min_size: int | None):
    """NamedShardings for a pytree of abstract arrays (e.g. from nnx.eval_shape)."""
    data_size = mesh.shape[DATA_AXIS]
    return jax.tree.map(
        lambda x: NamedSharding(mesh, param_partition_spec(tuple(x.shape), data_size, fsdp_min_size)),
        abstract_state,
    )
