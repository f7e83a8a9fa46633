"""Best-checkpoint selection: the direction follows the metric; the default is always computed."""

import jax.numpy as jnp
import numpy as np
import pytest

from speecheq_jax.config import base_config
from speecheq_jax.app import evaluate as evaluate_lib
from speecheq_jax.eval.metrics import Predictions, compute_metrics
from speecheq_jax.train import checkpoint as checkpoint_lib

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name, mode", [
    ("valid/overall/phoneme/per", "min"), ("valid/loss/category", "min"), ("valid/overall/intensity/mae", "min"),
    ("valid/corpora/cremad/intensity/mae", "min"), ("valid/overall/category/ua", "max"),
    ("valid/overall/category/wa", "max"), ("valid/overall/category/macro_f1", "max"),
    ("valid/overall/intensity/ccc", "max"), ("valid/overall/eq", "max"), ("valid/overall/eq@2", "max"),
    ("valid/overall/gender/accuracy", "max"), ("valid/overall/intensity/native_accuracy", "max"),
])
def test_metric_direction(name, mode):
    assert checkpoint_lib.metric_mode(name) == mode


def test_unknown_direction_is_a_one_line_error():
    with pytest.raises(checkpoint_lib.BestMetricError, match="no known direction for 'n'"):
        checkpoint_lib.metric_mode("valid/overall/category/n")


def _save(workdir, best_metric: str, values: list[float], key: str | None = None) -> checkpoint_lib.Checkpointer:
    ckpt = checkpoint_lib.Checkpointer(workdir, best_metric=best_metric, keep_latest=1, keep_best=1)
    for step, value in enumerate(values, start=1):
        ckpt.save(step, {"w": jnp.full(2, float(step))}, None, {key or best_metric: value})
    return ckpt


def test_selecting_by_per_keeps_the_lowest(tmp_path):
    ckpt = _save(tmp_path, "valid/overall/phoneme/per", [0.9, 0.4, 0.7])
    assert ckpt.resolve("best") == 2
    assert sorted(ckpt.manager.all_steps()) == [2, 3]  # best by PER + latest
    ckpt.close()
    ckpt = _save(tmp_path / "ua", "valid/overall/category/ua", [0.5, 0.8, 0.6])
    assert ckpt.resolve("best") == 2
    ckpt.close()


def test_a_run_without_category_head_selects_on_a_metric_it_computes(tmp_path):
    config = base_config("tiny")
    config.model.heads = ("phoneme", "gender")
    name = checkpoint_lib.best_metric_name(config)
    assert name == "valid/loss/phoneme"
    pred = Predictions(corpus=np.array(["esd"] * 2), speaker=np.array(["a", "b"]), category_true=np.array([0, 1]),
                       intensity_true=np.array([-1.0, -1.0]), gender_true=np.array([0, 1]),
                       gender_prob=np.eye(2), phoneme_true=[[1, 2], [3]], phoneme_pred=[[1], [3]])
    metrics = compute_metrics(pred)
    metrics["loss"] = {"phoneme": 1.5, "gender": 0.3}
    scalars = evaluate_lib.flatten(metrics, prefix="valid")
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=name)
    ckpt.save(1, {"w": jnp.ones(2)}, None, scalars)
    assert ckpt.resolve("best") == 1
    with pytest.raises(checkpoint_lib.BestMetricError, match=r"category/ua.* is not computed by this run"):
        checkpoint_lib.Checkpointer(tmp_path / "ua", best_metric="valid/overall/category/ua").save(
            1, {"w": jnp.ones(2)}, None, scalars)
    config.model.heads = ("category", "phoneme")
    assert checkpoint_lib.best_metric_name(config) == "valid/overall/category/ua"
    config.train.best_metric = "valid/overall/eq"
    assert checkpoint_lib.best_metric_name(config) == "valid/overall/eq"


def test_steps_saved_without_metrics_are_kept_as_latest_and_never_best(tmp_path):
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric="valid/overall/category/ua", keep_latest=2, keep_best=1)
    for step, metrics in [(1, {"valid/overall/category/ua": 0.4}), (2, {"valid/overall/category/ua": 0.7}),
                          (3, None), (4, {"valid/overall/category/ua": 0.5}), (5, None), (6, None)]:
        ckpt.save(step, {"w": jnp.full(2, float(step))}, None, metrics)
    assert sorted(ckpt.manager.all_steps()) == [2, 5, 6]  # best by UA + the latest two
    assert ckpt.resolve("best") == 2 and ckpt.resolve("latest") == 6
    ckpt.close()
    reopened = checkpoint_lib.Checkpointer(tmp_path, best_metric="valid/overall/category/ua", keep_latest=2)
    assert reopened.resolve("best") == 2 and reopened.latest_step() == 6
    reopened.close()
