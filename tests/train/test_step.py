"""The compiled train step: data parallelism, masking, compilation per bucket."""

import logging

import jax
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.frames import NUM_MELS
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.run_config import base_config
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib

pytestmark = pytest.mark.unit
NUM_PHONEMES = 10
NUM_CATEGORIES = 7


def _config(devices: int):
    config = base_config("tiny")
    config.model.num_layers = 1
    config.model.d_model = 32
    config.model.num_heads = 2
    config.model.pooling_attention_dim = 16
    config.model.dropout = 0.0
    config.model.attention_dropout = 0.0
    config.mesh.shape = (devices,)
    config.optim.warmup_steps = 1
    # Adam divides by sqrt(v): with eps 1e-8 a near-zero gradient's rounding noise
    # becomes a full-size update; a larger eps compares the data-parallel maths itself.
    config.optim.eps = 1e-3
    config.train.num_steps = 10
    return config


def _batch(batch_size: int = 8, frames: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = batch_lib.zeros(batch_size, frames, frames // 4)
    lengths = rng.integers(frames // 2, frames + 1, batch_size)
    for row, length in enumerate(lengths):
        b["logmel"][row, :length] = rng.normal(size=(length, NUM_MELS))
        b["frame_mask"][row, :length] = True
        b["phonemes"][row, :3] = rng.integers(1, NUM_PHONEMES + 1, 3)
        b["phoneme_mask"][row, :3] = True
    b["category"][:] = rng.integers(0, 7, batch_size)
    b["gender"][:] = rng.integers(0, 2, batch_size)
    b["intensity"][:] = rng.random(batch_size)
    for key in ("category_mask", "gender_mask", "intensity_mask", "example_mask"):
        b[key][:] = True
    b["intensity_mask"][::3] = False
    return b


def _run(config, batches):
    mesh = mesh_lib.make_mesh(config)
    train_state = state_lib.create_train_state(config, NUM_PHONEMES, NUM_CATEGORIES, mesh)
    train_step = step_lib.make_train_step(train_state, config, mesh)
    state = train_state.state
    history = []
    for b in batches:
        state, metrics = train_step(state, jax.device_put(b, mesh_lib.batch_sharding(mesh)))
        history.append(jax.device_get(metrics))
    return train_state, state, history, train_step


def test_eight_devices_match_one_device():
    batches = [_batch(seed=s) for s in range(3)]
    train_state, state1, hist1, _ = _run(_config(1), batches)
    _def = train_state.train_def
    _, state8, hist8, _ = _run(_config(8), batches)
    for a, b in zip(hist1, hist8):
        for key in ("loss", "grad_norm", "loss_phoneme", "loss_category"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5)
    params1, params8 = (jax.tree.leaves(nnx.split(nnx.merge(_def, s), nnx.Param, ...)[1])
                        for s in (state1, state8))
    assert len(params1) > 10
    for a, b in zip(params1, params8):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_a_fully_masked_task_gives_its_head_no_gradient():
    config = _config(8)
    mesh = mesh_lib.make_mesh(config)
    train_state = state_lib.create_train_state(config, NUM_PHONEMES, NUM_CATEGORIES, mesh)
    b = _batch()
    b["category_mask"][:] = False
    trainable, _ = nnx.merge(train_state.train_def, train_state.state)
    grads = nnx.grad(lambda t: step_lib._loss_and_metrics(t, jax.device_put(b), config)[0])(trainable)
    flat = dict(nnx.to_flat_state(grads))
    category = [np.abs(np.asarray(v[...])).max() for k, v in flat.items() if "category" in "/".join(map(str, k))]
    others = [np.abs(np.asarray(v[...])).max() for k, v in flat.items() if "gender" in "/".join(map(str, k))]
    assert category and max(category) == 0.0
    assert others and max(others) > 0.0


def test_step_compiles_once_per_bucket_shape(caplog):
    shapes = [64, 96, 64, 96, 64]
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        _run(_config(8), [_batch(frames=t, seed=i) for i, t in enumerate(shapes)])
    compiled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling jit(step)")]
    assert len(compiled) == 2, compiled
