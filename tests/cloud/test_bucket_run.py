"""A run whose workdir is a gs:// bucket, against a storage emulator: every output reaches the bucket.

The real main job, two local processes of one multi-process JAX job (4 CPU devices each, as
tests/train/test_multihost.py starts them) sharing the bucket, trains a tiny run with
`--workdir gs://bucket/run`, is SIGKILLed (both processes) after its first checkpoint, resumes
from the bucket (both processes), then one process evaluates and predicts from it
(`--mode evaluate|predict --workdir gs://...`); the export runs in this process with short ONNX
lengths. The emulator (gcp-storage-emulator, in memory, on a free port of 127.0.0.1) is reached
through `STORAGE_EMULATOR_HOST` alone: gcsfs reads it, and `storage.use_emulator` points
tensorstore (Orbax's arrays) at it. Nothing may appear in a local `gs:` directory.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import fsspec
import pytest
from etils import epath

from speecheq_jax import storage

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
RUN = "gs://bucket/run"
OVERRIDES = (
    "--config.data.synth.num=48", "--config.data.batch_size=8", "--config.data.buckets=(384,768)",
    "--config.model.num_layers=1", "--config.model.d_model=32", "--config.model.num_heads=2",
    "--config.model.pooling_attention_dim=16", "--config.optim.warmup_steps=1",
    "--config.train.log_every=1", "--config.train.eval_every=4", "--config.train.checkpoint_every=1000",
)


class _Job:
    """`python -m speecheq_jax.main ARGS` from `tmp_path` (a stray local `gs:` would land there), output collected.

    With `process_id`: process `process_id` of a `num_processes` job whose coordinator is 127.0.0.1:`port`
    (4 CPU devices each, as tests/train/test_multihost.py runs them).
    """

    def __init__(self, tmp_path: Path, *args: str, process_id: int | None = None, num_processes: int = 2,
                 port: int = 0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") or k == "JAX_COMPILATION_CACHE_DIR"}
        env.pop("TENSORSTORE_GCS_HTTP_URL", None)  # the job must find the emulator from STORAGE_EMULATOR_HOST alone
        devices = 8 if process_id is None else 4
        env.update({"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu",
                    "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
        if process_id is not None:
            env.update({"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}", "JAX_NUM_PROCESSES": str(num_processes),
                        "JAX_PROCESS_ID": str(process_id)})
        self.process = subprocess.Popen([sys.executable, "-m", "speecheq_jax.main", *args], cwd=tmp_path, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: [self.lines.append(line) for line in self.process.stdout],
                                       daemon=True)
        self.reader.start()

    def finish(self, returncode: int = 0) -> str:
        """The output, once the process has ended with `returncode`."""
        self.process.wait(timeout=600)
        self.reader.join()
        output = "".join(self.lines)
        assert self.process.returncode == returncode, output[-3000:]
        return output


def _main(tmp_path: Path, *args: str) -> str:
    """One process of the main job to its end; its output."""
    return _Job(tmp_path, *args).finish()


def _two_processes(tmp_path: Path, *args: str, kill_at: str | None = None, and_exists: str = "") -> list[str]:
    """Processes 0 and 1 of one job on the bucket; their outputs.

    With `kill_at`: SIGKILL to both process groups once the pattern appears in process 0's output and the
    object `and_exists` in the bucket.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    jobs = [_Job(tmp_path, *args, process_id=i, port=port) for i in range(2)]
    if kill_at:
        try:
            _wait_until(lambda: any(re.search(kill_at, line) for line in list(jobs[0].lines)), kill_at)
            _wait_until(lambda: _exists(and_exists), and_exists)
        except AssertionError as e:
            outputs = [f"process {i}: " + "".join(job.lines)[-2000:] for i, job in enumerate(jobs)]
            raise AssertionError("\n".join([str(e), *outputs])) from None
        finally:
            for job in jobs:
                os.killpg(job.process.pid, signal.SIGKILL)
    return [job.finish(-signal.SIGKILL if kill_at else 0) for job in jobs]


def _exists(url: str) -> bool:
    """Whether the object is in the bucket now (gcsfs caches listings, so its cache is dropped first)."""
    fsspec.filesystem("gs").invalidate_cache()
    return epath.Path(url).exists()


def _wait_until(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            fsspec.filesystem("gs").invalidate_cache()
            raise AssertionError(f"{what} did not appear; {sorted(storage.file_sizes(RUN))}")
        time.sleep(0.1)


def test_a_two_process_run_in_a_bucket_survives_sigkill_and_is_evaluated_exported_and_predicted(emulator, tmp_path):
    data_dir = tmp_path / "data"
    train = ["--config", f"{REPO}/configs/demo.py:steps=12", "--workdir", RUN, f"--config.data.data_dir={data_dir}",
             *OVERRIDES]
    # A multi-host job only reads prepared datasets (prep/multihost.py): prepared here, locally, first.
    from speecheq_jax.prep import prepare  # here: JAX loads after the emulator is set
    from tests.test_configs import load_config_module

    data = load_config_module("demo").get_config("").data
    data.data_dir, data.synth.num = str(data_dir), 48
    prepare.prepare_all(data, progress=False)
    # Killed once the step-4 checkpoint is committed in the bucket (written in the background: Orbax
    # marks a step committed on a bucket with commit_success.txt, having no rename).
    _two_processes(tmp_path, *train, kill_at=r"step 5 \|", and_exists=f"{RUN}/checkpoints/4/commit_success.txt")
    for resumed in _two_processes(tmp_path, *train):
        assert re.search(r"resuming from step (4|8)\b", resumed), resumed[-3000:]
    _main(tmp_path, "--workdir", RUN, "--mode", "evaluate", "--checkpoint", "latest")

    from speecheq_jax.jobs.export_run import export_run  # here: JAX loads after the emulator is set

    export_run(None, RUN, "latest", onnx_frames=(256,))
    wav = sorted(data_dir.rglob("*.wav"))[0]
    _main(tmp_path, "--workdir", RUN, "--mode", "predict", "--input", str(wav))

    files = storage.file_sizes(RUN)
    for name in ("config.json", "label_mapping.json", "model_card.json", "metrics.jsonl", "metrics.json",
                 "report.md", "curves.png", "predictions.jsonl", "checkpoints/12/speecheq_files.json",
                 "export/model_T256.onnx", "export/model.stablehlo", "export/model_card.json", "export/model_card.md"):
        assert files.get(name), f"{name} not in the bucket: {sorted(files)}"
    assert any(re.fullmatch(r"confusion_(valid|test)\.png", name) for name in files), sorted(files)
    for process in (0, 1):  # each process's part of the checkpoint (Orbax keeps one store per process)
        assert any(f"process_{process}" in name for name in files if name.startswith("checkpoints/12/")), sorted(files)
    assert not any(name.startswith("tensorboard/") for name in files)
    assert not list(tmp_path.glob("gs*")) and not list(REPO.glob("gs*")), "a local gs: directory was written"
