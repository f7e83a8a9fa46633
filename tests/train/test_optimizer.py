"""Weight decay: exactly the weight matrices (`kernel`), in the per-layer and the stacked layouts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.speecheq import SpeechEQ
from speecheq_jax.run_config import base_config
from speecheq_jax.train import optimizer

pytestmark = pytest.mark.unit


def _path(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def _decayed(params) -> dict[str, bool]:
    """path -> whether the run's optimizer moves the leaf under a zero gradient (decay alone moves it)."""
    config = base_config("tiny")
    config.optim.warmup_steps = 0
    tx = optimizer.make_optimizer(config)
    updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
    flat = jax.tree_util.tree_flatten_with_path(updates)[0]
    return {_path(path): bool(np.any(np.asarray(v) != 0)) for path, v in flat}


def test_only_kernels_of_the_model_are_decayed():
    config = base_config("tiny")
    config.model.num_layers = 1
    model = SpeechEQ(config.model, num_phonemes=10, num_categories=4, rngs=nnx.Rngs(0))
    params = jax.tree.map(lambda x: x + 1.0, nnx.state(model, nnx.Param))  # non-zero everywhere
    decayed = _decayed(params)
    assert decayed["encoder/blocks/attention/content_bias/value"] is False
    assert decayed["encoder/blocks/attention/position_bias/value"] is False
    assert decayed["encoder/blocks/attention/query/kernel/value"] is True
    for path, moved in decayed.items():
        assert moved == path.endswith("/kernel/value"), path
    assert sum(decayed.values()) > 10


def test_stacked_layer_parameters_keep_norms_and_biases_undecayed():
    layers = 3
    stacked = {"blocks": {
        "attention": {"content_bias": jnp.ones((layers, 4, 8)), "position_bias": jnp.ones((layers, 4, 8)),
                      "query": {"kernel": jnp.ones((layers, 32, 32)), "bias": jnp.ones((layers, 32))}},
        "norm": {"scale": jnp.ones((layers, 32)), "bias": jnp.ones((layers, 32))},
        "conv": {"kernel": jnp.ones((layers, 31, 1, 32))},
    }}
    assert _decayed(stacked) == {
        "blocks/attention/content_bias": False, "blocks/attention/position_bias": False,
        "blocks/attention/query/bias": False, "blocks/attention/query/kernel": True,
        "blocks/conv/kernel": True, "blocks/norm/bias": False, "blocks/norm/scale": False,
    }
