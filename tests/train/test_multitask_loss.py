"""The run's loss: every head's loss through the registry, and the task weighting."""

import jax.numpy as jnp
import numpy as np
import pytest

from speecheq_jax.heads.contract import LossOptions
from speecheq_jax.model.speecheq import ModelOutput
from speecheq_jax.train import multitask_loss

pytestmark = pytest.mark.unit


def test_combine_static_and_uncertainty():
    task = {"category": (jnp.float32(2.0), jnp.float32(4)), "gender": (jnp.float32(1.0), jnp.float32(0))}
    weights = {"category": 1.0, "gender": 0.5}
    total, eff = multitask_loss.combine(task, weights)
    assert float(total) == pytest.approx(2.0 + 0.5 * 1.0) and float(eff["gender"]) == 0.5
    log_vars = {"category": jnp.float32(np.log(2.0)), "gender": jnp.float32(3.0)}
    total, eff = multitask_loss.combine(task, weights, log_vars)
    # gender has no labels in this batch: neither its loss nor its log-variance term counts.
    assert float(total) == pytest.approx(0.5 * 2.0 + np.log(2.0), rel=1e-6)
    assert float(eff["category"]) == pytest.approx(0.5)


def test_task_losses_follow_the_heads_of_the_output_and_the_registry_order():
    rng = np.random.default_rng(0)
    batch = {"category": jnp.asarray([0, 2]), "category_mask": jnp.asarray([True, False]),
             "gender": jnp.asarray([1, 0]), "gender_mask": jnp.asarray([True, True])}
    output = ModelOutput(out_mask=jnp.ones((2, 3), bool),
                         heads={"category": jnp.asarray(rng.normal(size=(2, 4)), jnp.float32),
                                "gender": jnp.asarray(rng.normal(size=(2, 2)), jnp.float32)})
    task = multitask_loss.task_losses(output, batch, LossOptions(label_smoothing=0.1))
    assert list(task) == ["category", "gender"]
    assert float(task["category"][1]) == 1.0 and float(task["gender"][1]) == 2.0
