"""Gradient accumulation averages every task over ALL labelled examples of the accumulated batch."""

import jax
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.input import batch as batch_lib
from speecheq_jax.run_config import ConfigError, base_config
from speecheq_jax.train import accumulation
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib
from tests.train.test_step import NUM_CATEGORIES, NUM_PHONEMES, _batch

pytestmark = pytest.mark.unit


def _config(accumulate: int, weighting: str):
    config = base_config("tiny")
    config.model.update({"num_layers": 1, "d_model": 32, "num_heads": 2, "pooling_attention_dim": 16,
                         "dropout": 0.0, "attention_dropout": 0.0,
                         # Batch statistics would differ between two halves and their union.
                         "norm": "layer"})
    config.tasks.weighting = weighting
    config.mesh.shape = (8,)
    # eps 1 makes the first Adam step about lr x gradient (not its sign), so it shows the gradient itself.
    config.optim.update({"lr": 0.5, "warmup_steps": 0, "eps": 1.0, "accumulate": accumulate})
    config.train.num_steps = accumulate  # one update either way: the same learning-rate schedule
    return config


def _halves():
    """Two micro-batches whose halves carry very different numbers of labels per task."""
    a, b = _batch(seed=0), _batch(seed=1)
    a["category_mask"][1:] = False      # 1 vs 8
    b["intensity_mask"][:] = True       # 5 vs 8
    a["intensity_mask"][2:] = False     # -> 2 vs 8
    b["phoneme_mask"][3:] = False       # 8 vs 3
    b["gender_mask"][4:] = False        # 8 vs 4
    return a, b


def _params_after(config, batches):
    mesh = mesh_lib.make_mesh(config)
    train_state = state_lib.create_train_state(config, NUM_PHONEMES, NUM_CATEGORIES, mesh)
    train_step = step_lib.make_train_step(train_state, config, mesh)
    state = train_state.state
    sharded = (jax.device_put(b, mesh_lib.batch_sharding(mesh)) for b in batches)
    grouped = accumulation.grouped(sharded, int(config.optim.accumulate))
    for _ in batches:
        state, _ = train_step(state, next(grouped))
    params = nnx.split(nnx.merge(train_state.train_def, state), nnx.Param, ...)[1]
    return [np.asarray(p) for p in jax.tree.leaves(params)]


@pytest.mark.parametrize("weighting", ["uncertainty"])  # its scaling and presence terms cover static
def test_accumulating_two_halves_equals_one_step_on_their_union(weighting):
    a, b = _halves()
    union = {k: np.concatenate([a[k], b[k]]) for k in batch_lib.keys()}
    accumulated = _params_after(_config(2, weighting), [a, b])
    whole = _params_after(_config(1, weighting), [union])
    initial = _params_after(_config(1, weighting), [])
    assert len(whole) > 10
    assert max(np.abs(w - i).max() for w, i in zip(whole, initial)) > 5e-3  # the update is not trivial
    for x, y in zip(accumulated, whole):
        np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)


def test_checkpoints_must_fall_on_whole_updates():
    config = _config(4, "static")
    config.train.eval_every = 6
    with pytest.raises(ConfigError, match="train.eval_every = 6 is not a multiple of optim.accumulate = 4"):
        accumulation.check_schedule(config)
    config.train.eval_every = 8
    config.train.checkpoint_every = 10
    with pytest.raises(ConfigError, match="train.checkpoint_every = 10 is not a multiple of optim.accumulate = 4"):
        accumulation.check_schedule(config)
