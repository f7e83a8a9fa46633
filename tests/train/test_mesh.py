"""Mesh construction and the FSDP sharding rule."""

import jax
import ml_collections
import pytest
from jax.sharding import PartitionSpec as P

from speecheq_jax.train import mesh as mesh_lib

pytestmark = pytest.mark.unit


def _config(shape, axes=("data",)):
    return ml_collections.ConfigDict({"mesh": {"shape": shape, "axes": axes}})


def test_mesh_takes_all_devices_and_auto_axes():
    mesh = mesh_lib.make_mesh(_config((-1,)))
    assert mesh.shape["data"] == jax.device_count() == 8
    assert all(t == jax.sharding.AxisType.Auto for t in mesh.axis_types)


def test_explicit_smaller_mesh_uses_the_first_devices():
    mesh = mesh_lib.make_mesh(_config((1,)))
    assert mesh.devices.tolist() == [jax.devices()[0]]


def test_bad_mesh_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="needs 16 devices"):
        mesh_lib.make_mesh(_config((16,)))
    with pytest.raises(ValueError, match="must match"):
        mesh_lib.make_mesh(_config((-1,), axes=("model",)))


def test_fsdp_rule_shards_large_leaves_on_a_divisible_axis():
    assert mesh_lib.param_partition_spec((512, 256), 8, None) == P()
    assert mesh_lib.param_partition_spec((512, 256), 8, 1024) == P("data", None)
    assert mesh_lib.param_partition_spec((6, 1024), 8, 1024) == P(None, "data")
    assert mesh_lib.param_partition_spec((7, 9), 8, 1) == P()
    assert mesh_lib.param_partition_spec((64,), 8, 1024) == P()
