"""Multi-host training with several local processes: 2 processes x 4 CPU devices
must train exactly like 1 process x 8 devices (same global batches, same losses)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
OVERRIDES = (
    "--config.data.synth.num=48", "--config.data.batch_size=8", "--config.data.buckets=(384,768)",
    "--config.model.num_layers=1", "--config.model.d_model=32", "--config.model.num_heads=2",
    "--config.model.pooling_attention_dim=16", "--config.optim.warmup_steps=1",
    "--config.train.log_every=1", "--config.train.eval_every=3",
)


def _launch(workdir: Path, data_dir: Path, devices: int, process_id: int | None = None,
            num_processes: int = 1, port: int | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") or k == "JAX_COMPILATION_CACHE_DIR"}
    env.update({"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu",
                "PYTHONPATH": str(REPO)})
    if process_id is not None:
        env.update({"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}", "JAX_NUM_PROCESSES": str(num_processes),
                    "JAX_PROCESS_ID": str(process_id)})
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", f"{REPO}/configs/demo.py:steps=3",
               "--workdir", str(workdir), f"--config.data.data_dir={data_dir}", *OVERRIDES]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen, timeout: float = 600) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def _losses(workdir: Path) -> list[float]:
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [line["train/loss"] for line in lines if "train/loss" in line]


def test_two_processes_train_like_one(tmp_path):
    data_dir = tmp_path / "data"
    _finish(_launch(tmp_path / "single", data_dir, devices=8))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    processes = [_launch(tmp_path / "multi", data_dir, devices=4, process_id=i, num_processes=2, port=port)
                 for i in range(2)]
    outputs = [_finish(p) for p in processes]
    single, multi = _losses(tmp_path / "single"), _losses(tmp_path / "multi")
    assert len(single) == len(multi) == 3
    assert multi == pytest.approx(single, rel=1e-5), outputs[0][-2000:]
    assert (tmp_path / "multi" / "checkpoints" / "3").is_dir()
    report = json.loads((tmp_path / "multi" / "metrics.json").read_text())
    assert report["test"]["overall"]["category/n"] == json.loads(
        (tmp_path / "single" / "metrics.json").read_text())["test"]["overall"]["category/n"]
