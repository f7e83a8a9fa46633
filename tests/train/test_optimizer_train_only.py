"""make_optimizer's trained_rows hook: frozen leaves and rows get no update and no optimizer state."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from speecheq_jax.run_config import base_config
from speecheq_jax.train import optimizer

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("accumulate", [1, 2])
def test_frozen_leaves_and_rows_stay_and_hold_no_state(accumulate):
    config = base_config("tiny")
    config.optim.warmup_steps = 0
    config.optim.accumulate = accumulate
    params = {"stack": {"kernel": jnp.ones((3, 4, 2))}, "norm": {"scale": jnp.ones((4,))}}
    rows = {"stack": {"kernel": 1}, "norm": {"scale": optimizer.FROZEN}}
    tx = optimizer.make_optimizer(config, lambda tree: jax.tree.map(lambda _, k: k, tree, rows))
    state = tx.init(params)
    assert all(x.shape in ((), (2, 4, 2)) for x in jax.tree.leaves(state))  # rows 1: of the stack only
    grads = jax.tree.map(jnp.ones_like, params)
    for _ in range(accumulate):
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    kernel = np.asarray(params["stack"]["kernel"])
    assert np.all(kernel[0] == 1.0) and np.all(kernel[1:] < 1.0)
    assert np.all(np.asarray(params["norm"]["scale"]) == 1.0)
