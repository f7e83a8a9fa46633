"""SIGKILL at any moment, then the same command: the run ends exactly as an uninterrupted one.

One restart series of the real main job (`python -m speecheq_jax.main`, a
subprocess in its own process group, so the kill also takes its workers): the
first run is killed during corpus generation, its restart during preparation,
the next during compilation, and so on through training, checkpoint writing,
validation and the final test; a last restart runs to the end. Each kill
comes when the job's output shows the phase (the line or progress bar the job
already prints). Its metrics.json must equal, to 1e-6, that of an
uninterrupted run with its own data directory (so a half-written corpus or
dataset that the series trusted could not be hidden by sharing it), and so
must the final parameters. Both use
a private compilation cache: the series' compile phase really compiles, and
the reference run then reads what the series wrote.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_run import checkpoint_params, tiny_demo_config
from tests.train.test_preemption import OVERRIDES as PREEMPTION_OVERRIDES
from tests.train.test_preemption import STEPS

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
# test_preemption's tiny run (48 utterances, a 1-layer model, 40 steps, validations at 20 and 40),
# with a checkpoint every 10 steps.
OVERRIDES = tuple(o for o in PREEMPTION_OVERRIDES if "checkpoint_every" not in o) + (
    "--config.train.checkpoint_every=10",)
# (phase, what the job prints when it is in it, a path under the workdir that must exist too). The
# kills chain: each restart redoes what the previous kill interrupted and is killed at the next phase.
# Checkpoint writing prints nothing of its own: after the step-10 line, the kill waits for Orbax's
# temporary directory of step 10 (the step is being written, not yet committed).
KILL_POINTS = (
    ("corpus generation", r"generate SEQD-synth:", None),  # the generator's progress bar
    ("preparation", r"utterances kept", None),             # corpus read; the TFDS build follows
    ("compilation", r"compile train step:", None),         # the compile progress bar (cache empty)
    ("training", r"step 3 \|", None),                      # before any checkpoint
    ("checkpoint writing", r"step 10 \|", "checkpoints/10.orbax-checkpoint-tmp*"),
    ("validation", r"valid:", None),                       # the step-20 validation's progress bar
    ("final test", r"restored checkpoint best", None),     # the best checkpoint, restored for valid + test
)


def _launch(workdir: Path, data_dir: Path, cache_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update({"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu",
                "JAX_COMPILATION_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", f"{REPO}/configs/demo.py:steps={STEPS}",
               "--workdir", str(workdir), f"--config.data.data_dir={data_dir}", *OVERRIDES]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_for(workdir: Path, pattern: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(workdir.glob(pattern)):
        assert time.monotonic() < deadline, f"{pattern} did not appear under {workdir}"
        time.sleep(0.005)


def _run(process: subprocess.Popen, kill_at: str | None = None, workdir: Path | None = None,
         and_exists: str | None = None, timeout: float = 300) -> str:
    """The job's output until it exits, or until `kill_at` appears in it (and `and_exists` under
    `workdir`): then SIGKILL to its whole process group."""
    output, deadline, fd = b"", time.monotonic() + timeout, process.stdout.fileno()
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            output += chunk
            if kill_at and re.search(kill_at, output.decode(errors="replace")):
                if and_exists:
                    _wait_for(workdir, and_exists)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return output.decode(errors="replace")
    else:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    text = output.decode(errors="replace")
    assert kill_at is None, f"the job ended before showing {kill_at!r}:\n{text[-3000:]}"
    assert process.returncode == 0, text[-3000:]
    return text


def _assert_close(a, b, path: str = "") -> None:
    """Same structure, same strings and integers, floats equal to 1e-6."""
    assert type(a) is type(b) or {type(a), type(b)} <= {int, float}, path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_close(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{path}/{i}")
    elif isinstance(a, float):
        assert abs(a - b) <= 1e-6 * max(1.0, abs(b)), f"{path}: {a} != {b}"
    else:
        assert a == b, path


def _count_floats(tree) -> int:
    if isinstance(tree, dict):
        return sum(_count_floats(v) for v in tree.values())
    if isinstance(tree, list):
        return sum(_count_floats(v) for v in tree)
    return isinstance(tree, float)


def test_sigkill_in_every_phase_then_restart_equals_an_uninterrupted_run(tmp_path):
    cache = tmp_path / "xla"
    workdir, data_dir = tmp_path / "killed", tmp_path / "killed_data"
    started = time.perf_counter()
    for phase, marker, and_exists in KILL_POINTS:
        _run(_launch(workdir, data_dir, cache), kill_at=marker, workdir=workdir, and_exists=and_exists)
        saving = sorted(p.name for p in workdir.glob("checkpoints/*tmp*"))
        print(f"killed in {phase} at {time.perf_counter() - started:.0f} s; half-written checkpoints: {saving}")
    output = _run(_launch(workdir, data_dir, cache))
    assert "resuming from step 40" in output  # the final test's kill: training is not redone
    _run(_launch(tmp_path / "straight", tmp_path / "straight_data", cache))
    print(f"series and reference run in {time.perf_counter() - started:.0f} s")

    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    restarted = json.loads((workdir / "metrics.json").read_text())
    _assert_close(restarted, straight)
    print(f"{len(KILL_POINTS)} kills survived; {_count_floats(straight)} metrics equal to 1e-6")
    config = tiny_demo_config(data_dir, steps=STEPS)
    for a, b in zip(checkpoint_params(tmp_path / "straight", config, STEPS), checkpoint_params(workdir, config, STEPS)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
