"""Fine-tuning switches: what one optimizer step moves, the stop-gradient forward, data parallelism."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.run_config import ConfigError, base_config
from speecheq_jax.ssl.finetune import FineTuning, parse_finetune
from speecheq_jax.ssl.loader import load_encoder
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train.optimizer import FROZEN, make_optimizer
from tests.ssl.conftest import SAMPLES

pytestmark = pytest.mark.integration



def padded_batch(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(waveform float32 [rows, SAMPLES], mask bool [rows, SAMPLES]): utterances of different lengths."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(SAMPLES // 4, SAMPLES + 1, rows)
    mask = np.arange(SAMPLES)[None, :] < lengths[:, None]
    return np.where(mask, rng.normal(0.0, 0.3, (rows, SAMPLES)), 0.0).astype(np.float32), mask


def loss_fn(params: nnx.State, graphdef: nnx.GraphDef, rest: nnx.State, finetuning: FineTuning | None,
            waveform: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean square of the valid frames of the last hidden state; finetuning None: the plain forward."""
    encoder = nnx.merge(graphdef, params, rest)
    out = encoder(waveform, mask) if finetuning is None else finetuning.forward(encoder, waveform, mask)
    frames = out.frame_mask[..., None]
    return jnp.sum(jnp.where(frames, out.last_hidden_state, 0.0) ** 2) / jnp.sum(frames)


def rows_of(params: nnx.State, rule) -> list[tuple[str, np.ndarray, int]]:
    """(path, array, first trained row) of every parameter leaf."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return [(jax.tree_util.keystr(path), np.asarray(leaf), row)
            for (path, leaf), row in zip(leaves, jax.tree.leaves(rule(params)))]


@pytest.mark.parametrize(("variant", "mode"), [("wavlm_layer", "frozen"), ("wavlm_layer", "top:1"),
                                               ("wavlm_layer", "all"), ("wav2vec2_group", "top:2"),
                                               ("wav2vec2_group", "all+cnn")])
def test_one_step_moves_exactly_the_trained_parameters(tiny_checkpoints, variant, mode):
    encoder, config = load_encoder(tiny_checkpoints[variant].directory)
    finetuning = parse_finetune(mode, config)
    run_config = base_config("tiny")
    run_config.optim.warmup_steps = 0
    rule = finetuning.trained_rows()
    optimizer = nnx.Optimizer(encoder, make_optimizer(run_config, rule), wrt=nnx.Param)
    graphdef, params, rest = nnx.split(encoder, nnx.Param, ...)
    before = rows_of(params, rule)
    waveform, mask = padded_batch(3, seed=5)
    grad = jax.jit(jax.grad(loss_fn), static_argnums=(1, 3))
    grads = grad(params, graphdef, rest, finetuning, waveform, mask)
    plain = grad(params, graphdef, rest, None, waveform, mask)
    optimizer.update(encoder, grads)

    trained_size = 0
    after = rows_of(nnx.state(encoder, nnx.Param), rule)
    for (path, old, row), (_, new, _), gradient, full in zip(before, after, jax.tree.leaves(grads),
                                                            jax.tree.leaves(plain)):
        frozen_rows = len(old) if row == FROZEN else row
        assert np.array_equal(old[:frozen_rows], new[:frozen_rows]), path  # bit-identical
        assert not np.any(np.asarray(gradient)[:frozen_rows]), path  # stop_gradient: exact zeros
        np.testing.assert_allclose(np.asarray(gradient)[frozen_rows:], np.asarray(full)[frozen_rows:],
                                   atol=1e-5, err_msg=path)  # the trained part's gradient is the plain one
        trained_parts = range(frozen_rows, len(old)) if "layers" in path else [slice(frozen_rows, None)]
        for part in trained_parts if row != FROZEN else []:  # each trained layer (row) of a stack moved
            assert np.any(old[part] != new[part]), (path, part)
        trained_size += old[frozen_rows:].size
    state_size = sum(np.size(x) for x in jax.tree.leaves(nnx.state(optimizer.opt_state)) if np.ndim(x))
    assert state_size == 2 * trained_size  # Adam's two moments of the trained part, nothing for the rest
    assert (trained_size == 0) == (mode == "frozen")


def test_eight_devices_give_the_one_device_gradient(tiny_checkpoints):
    encoder, config = load_encoder(tiny_checkpoints["wavlm_group"].directory)
    finetuning = parse_finetune("top:1", config)
    graphdef, params, rest = nnx.split(encoder, nnx.Param, ...)
    waveform, mask = padded_batch(8, seed=6)
    grad = jax.jit(jax.grad(loss_fn), static_argnums=(1, 3))
    single = grad(params, graphdef, rest, finetuning, waveform, mask)
    run_config = base_config("tiny")
    run_config.mesh.shape = (8,)
    mesh = mesh_lib.make_mesh(run_config)
    sharded_batch = jax.device_put((waveform, mask), mesh_lib.batch_sharding(mesh))
    params8, rest8 = jax.device_put((params, rest), mesh_lib.replicated(mesh))
    parallel = grad(params8, graphdef, rest8, finetuning, *sharded_batch)
    assert len(sharded_batch[0].sharding.device_set) == 8
    diffs = [float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))
             for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(parallel))]
    assert max(diffs) <= 1e-5
    assert sum(np.any(np.asarray(g) != 0) for g in jax.tree.leaves(single)) > 10  # the top layer's gradient


@pytest.mark.parametrize("switch", ["top:0", "top:3", "top:x", "top", "ALL", "", "frozen "])
def test_bad_switch_is_one_line(tiny_checkpoints, switch):
    _, config = load_encoder(tiny_checkpoints["wav2vec2_group"].directory)
    with pytest.raises(ConfigError) as error:
        parse_finetune(switch, config)
    assert "\n" not in str(error.value) and "fine-tuning" in str(error.value)
