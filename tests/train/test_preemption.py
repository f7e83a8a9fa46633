"""Preemption and periodic checkpoints: SIGTERM saves the step reached and exits 0, the same
command resumes from it and ends where an uninterrupted run ends; `train.checkpoint_every`
saves between validations, and neither kind of checkpoint (no metrics) is ever "best"."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from speecheq_jax.jobs import train_and_evaluate as train_lib
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import compile_ahead
from speecheq_jax.train.finite import NonFiniteLossError
from tests.tiny_run import BEST, checkpoint_params, tiny_demo_config

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
STEPS = 40
OVERRIDES = (
    "--config.data.synth.num=48", "--config.data.batch_size=8", "--config.data.buckets=(384,768)",
    "--config.model.num_layers=1", "--config.model.d_model=32", "--config.model.num_heads=2",
    "--config.model.pooling_attention_dim=16", "--config.optim.warmup_steps=1",
    "--config.train.log_every=1", "--config.train.eval_every=20", "--config.train.checkpoint_every=1000",
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speecheq_data")


def _launch(workdir: Path, data_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") or k == "JAX_COMPILATION_CACHE_DIR"}
    env.update({"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu",
                "PYTHONPATH": str(REPO)})
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", f"{REPO}/configs/demo.py:steps={STEPS}",
               "--workdir", str(workdir), f"--config.data.data_dir={data_dir}", *OVERRIDES]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    return output


def test_sigterm_saves_the_step_reached_and_the_same_command_resumes(data_dir, tmp_path):
    _finish(_launch(tmp_path / "straight", data_dir))

    process = _launch(tmp_path / "preempted", data_dir)
    for line in process.stdout:  # SIGTERM once training has run a few steps
        if re.search(r"step 3 \|", line):
            break
    sent = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    output = _finish(process)
    seconds = time.perf_counter() - sent
    saved = int(re.search(r"preempted: checkpoint saved at step (\d+)", output).group(1))
    print(f"SIGTERM to exit: {seconds:.2f} s; checkpoint at step {saved}")
    # It stopped early (saved < STEPS); how fast is a figure for the log, not a timed assertion.
    assert 3 <= saved < STEPS
    ckpt = checkpoint_lib.Checkpointer(tmp_path / "preempted", best_metric=BEST)
    assert ckpt.latest_step() == saved
    ckpt.close()
    assert not (tmp_path / "preempted" / "metrics.json").exists()  # no test evaluation after a preemption

    output = _finish(_launch(tmp_path / "preempted", data_dir))
    assert f"resuming from step {saved}" in output
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    resumed = json.loads((tmp_path / "preempted" / "metrics.json").read_text())
    assert resumed["step"] == straight["step"] and resumed["test"]["overall"] == straight["test"]["overall"]
    config = tiny_demo_config(data_dir, steps=STEPS)
    straight_params = checkpoint_params(tmp_path / "straight", config, STEPS)
    for a, b in zip(straight_params, checkpoint_params(tmp_path / "preempted", config, STEPS)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _on_train_call(monkeypatch, at_call: int, action) -> None:
    """Patches the compiled train step: at call `at_call`, `action(batch)` -> the batch to use."""
    real = compile_ahead.CompiledStep.__call__
    calls = {"n": 0}

    def wrapped(self, state, batch):
        if self.name == "train step":
            calls["n"] += 1
            if calls["n"] == at_call:
                batch = action(batch)
        return real(self, state, batch)

    monkeypatch.setattr(compile_ahead.CompiledStep, "__call__", wrapped)


def _sigterm(batch):
    os.kill(os.getpid(), signal.SIGTERM)
    return batch


def test_periodic_and_preemption_checkpoints_are_latest_never_best(data_dir, tmp_path, monkeypatch):
    config = tiny_demo_config(data_dir, steps=6)
    config.train.update({"log_every": 50, "eval_every": 2, "checkpoint_every": 3, "keep_latest": 3})
    with monkeypatch.context() as patch:
        _on_train_call(patch, 5, _sigterm)
        assert train_lib.train_and_evaluate(config, tmp_path) is None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler lives only while training
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=BEST, keep_latest=3)
    assert sorted(ckpt.manager.all_steps()) == [2, 3, 4, 5]  # 3: checkpoint_every; 5: preemption
    assert ckpt.resolve("best") in (2, 4)
    ckpt.close()
    results = train_lib.train_and_evaluate(config, tmp_path)
    assert results["step"] in (2, 4, 6)
    ckpt = checkpoint_lib.Checkpointer(tmp_path, best_metric=BEST, keep_latest=3)
    assert ckpt.latest_step() == 6 and ckpt.resolve("best") in (2, 4, 6)
    ckpt.close()


def test_a_checkpoint_step_checks_every_step_before_it(data_dir, tmp_path, monkeypatch):
    config = tiny_demo_config(data_dir, steps=4)
    config.train.update({"log_every": 50, "eval_every": 50, "checkpoint_every": 3})
    _on_train_call(monkeypatch, 2, lambda batch: dict(batch, logmel=batch["logmel"] * np.float32("nan")))
    with pytest.raises(NonFiniteLossError, match=r"step 2.*none saved yet"):
        train_lib.train_and_evaluate(config, tmp_path)
    assert checkpoint_lib.Checkpointer(tmp_path, best_metric=BEST).latest_step() is None
