"""Best-checkpoint selection: the direction follows the metric; the default is always computed.
Damaged steps are set aside and 'latest'/'best' fall back; a step that is not there is one line."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from speecheq_jax.eval.metrics import Predictions, compute_metrics
from speecheq_jax.jobs import evaluate_checkpoint as evaluate_lib
from speecheq_jax.run_config import base_config
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import checkpoint_files

pytestmark = pytest.mark.unit
REPO = Path(__file__).parents[2]


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
    pred = Predictions(corpus=np.array(["esd"] * 2), speaker=np.array(["a", "b"]),
                       truth={"category": np.array([0, 1]), "intensity": np.array([-1.0, -1.0]),
                              "gender": np.array([0, 1]), "phoneme": [[1, 2], [3]]},
                       predicted={"gender": np.eye(2), "phoneme": [[1], [3]]})
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


# --- damaged checkpoints: found when opened, set aside, 'latest' and 'best' fall back ----------------

UA = "valid/overall/category/ua"
_TARGET = SimpleNamespace(state={"w": jax.ShapeDtypeStruct((1000,), jnp.float32)})


def _saved_run(workdir: Path, uas: list[float]) -> None:
    """Steps 1..len(uas), each a distinct state, saved by the Checkpointer as a run saves them."""
    ckpt = checkpoint_lib.Checkpointer(workdir, best_metric=UA, keep_latest=len(uas))
    for step, ua in enumerate(uas, start=1):
        ckpt.save(step, {"w": jnp.arange(1000.0) + step}, None, {UA: ua})
    ckpt.close()


def _array_file(step_dir: Path) -> Path:
    """The step's largest TensorStore data file (the array "w")."""
    return max((p for p in (step_dir / "state").rglob("*") if p.is_file() and "/d/" in str(p)),
               key=lambda p: p.stat().st_size)


def _truncate(step_dir: Path) -> None:
    path = _array_file(step_dir)
    os.truncate(path, path.stat().st_size // 2)


_DAMAGES = {
    "array file truncated": (_truncate, r"state/\S+/d/\w+ has \d+ bytes, \d+ were written"),
    "array file deleted": (lambda d: _array_file(d).unlink(), r"state/\S+/d/\w+ is missing"),
    "step metadata deleted": (lambda d: (d / "_CHECKPOINT_METADATA").unlink(), "_CHECKPOINT_METADATA is missing"),
    "state metadata deleted": (lambda d: (d / "state" / "_METADATA").unlink(), "state/_METADATA is missing"),
}


@pytest.mark.parametrize("damage", list(_DAMAGES))
def test_a_damaged_latest_step_is_set_aside_with_one_warning_and_the_previous_one_restores(tmp_path, caplog, damage):
    _saved_run(tmp_path, [0.1, 0.2, 0.3])
    damage_fn, reason = _DAMAGES[damage]
    damage_fn(tmp_path / "checkpoints" / "3")
    with caplog.at_level(logging.WARNING):
        ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=UA, keep_latest=3)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and re.search(rf"damaged checkpoint step 3 \({reason}\).*still whole: 1, 2$", warnings[0])
    assert ckpt.latest_step() == 2 and ckpt.resolve("best") == 2  # the resume path and the final test fall back
    np.testing.assert_array_equal(ckpt.restore(2, _TARGET)["w"], np.arange(1000.0) + 2)
    assert [p.name.split(".")[0] for p in (tmp_path / "checkpoints_damaged").iterdir()] == ["3"]
    ckpt.save(3, {"w": jnp.zeros(1000)}, None, {UA: 0.0})  # a resumed run saves step 3 again
    ckpt.close()
    assert checkpoint_lib.Checkpointer(tmp_path, best_metric=UA, keep_latest=3).latest_step() == 3


def test_a_damaged_best_step_falls_back_to_the_next_best(tmp_path):
    _saved_run(tmp_path, [0.5, 0.9, 0.7, 0.1])
    _truncate(tmp_path / "checkpoints" / "2")
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=UA, keep_latest=4)
    assert ckpt.resolve("best") == 3 and ckpt.latest_step() == 4
    with pytest.raises(FileNotFoundError, match=r"step 2 is damaged \(state/.* bytes.*\) and was moved to .*"
                                                r"checkpoints_damaged/2\..*available steps: 1, 3, 4"):
        ckpt.resolve(2)
    ckpt.close()
    with pytest.raises(FileNotFoundError, match=r"step 2 is damaged and was moved to "):  # a later run
        checkpoint_lib.Checkpointer(tmp_path, best_metric=UA).resolve("2")


def test_no_whole_step_is_one_error_and_moves_nothing(tmp_path):
    _saved_run(tmp_path, [0.1, 0.2])
    _truncate(tmp_path / "checkpoints" / "1")
    (tmp_path / "checkpoints" / "2" / "_CHECKPOINT_METADATA").unlink()
    with pytest.raises(checkpoint_lib.DamagedCheckpointError,
                       match=r"no usable checkpoint .*step 1: state/.* bytes.*step 2: _CHECKPOINT_METADATA is missing"):
        checkpoint_lib.Checkpointer(tmp_path, best_metric=UA)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["1", "2"]


def test_bytes_changed_in_place_fail_the_restore_in_one_line(tmp_path):
    _saved_run(tmp_path, [0.1])
    path = _array_file(tmp_path / "checkpoints" / "1")
    path.write_bytes(b"\0" * path.stat().st_size)  # same size: the file list cannot see it, the restore does
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=UA)
    with pytest.raises(checkpoint_lib.DamagedCheckpointError, match=r"^checkpoint step 1 under .* cannot be restored") as error:
        ckpt.restore(1, _TARGET)
    assert "\n" not in str(error.value)


def test_a_step_that_does_not_exist_names_the_available_ones(tmp_path):
    _saved_run(tmp_path, [0.1, 0.2])
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=UA)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at step 12345 .*; available steps: 1, 2 \("):
        ckpt.resolve("12345")
    with pytest.raises(FileNotFoundError, match=r"'last' is not 'best', 'latest' or a step number; available steps: 1, 2"):
        ckpt.resolve("last")


@pytest.mark.integration
@pytest.mark.parametrize("mode, checkpoint, damage, message", [
    ("evaluate", "12345", None, r"^error: no checkpoint at step 12345 under .*; available steps: 1, 2 \("),
    ("export", "12345", None, r"^error: no checkpoint at step 12345 .*; available steps: 1, 2 \("),
    ("predict", "7", None, r"^error: no checkpoint at step 7 .*; available steps: 1, 2 \("),
    ("evaluate", "latest", "all", r"^data error: no usable checkpoint under .*step 1: .*step 2: "),
])
def test_main_says_it_in_one_line_and_exits_non_zero(tmp_path, mode, checkpoint, damage, message):
    _saved_run(tmp_path, [0.1, 0.2])
    if damage:
        for step in ("1", "2"):
            _truncate(tmp_path / "checkpoints" / step)
    env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", f"{REPO}/configs/demo.py",
               "--workdir", str(tmp_path), "--mode", mode, "--checkpoint", checkpoint, "--input", __file__]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert re.search(message, result.stderr.strip().splitlines()[-1]), result.stderr[-3000:]


def test_asynchronous_saves_hold_the_state_passed_even_when_its_buffers_are_donated(tmp_path):
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=UA, keep_latest=3, asynchronous=True)
    for step in (1, 2, 3):
        state = {"w": jnp.arange(1000.0) + step}
        ckpt.save(step, state, None, {UA: step / 10})
        state["w"].delete()  # what the next train step's donation does to the buffers saved
    assert ckpt.latest_step() == 3  # waits for the save in flight
    ckpt.close()
    assert all((tmp_path / "checkpoints" / str(s) / checkpoint_files.FILE_LIST).is_file() for s in (1, 2, 3))
    _truncate(tmp_path / "checkpoints" / "3")
    reopened = checkpoint_lib.Checkpointer(tmp_path, best_metric=UA, keep_latest=3)
    assert reopened.latest_step() == 2
    for step in (1, 2):
        np.testing.assert_array_equal(reopened.restore(step, _TARGET)["w"], np.arange(1000.0) + step)
