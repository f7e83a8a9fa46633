"""--mode crossval end to end on tiny runs: SEQD-synth killed mid-fold and resumed; an IEMOCAP-layout tree."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.train.test_kill_restart import _run
from tests.train.test_preemption import OVERRIDES

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
STEPS = 8


def _launch(workdir: Path, data_dir: Path, *args: str) -> subprocess.Popen:
    """`main --mode crossval` on test_preemption's tiny SEQD-synth run, 8 steps, a checkpoint every 2."""
    overrides = [o for o in OVERRIDES if "eval_every" not in o and "checkpoint_every" not in o]
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", f"{REPO}/configs/demo.py:steps={STEPS}",
               "--workdir", str(workdir), "--mode", "crossval", f"--config.data.data_dir={data_dir}", *overrides,
               "--config.train.eval_every=4", "--config.train.checkpoint_every=2", *args]
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin:/usr/local/bin",
           "JAX_COMPILATION_CACHE_DIR": str(workdir.parent / "xla")}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_sigkill_during_fold_2_then_rerun_skips_fold_1_and_resumes_fold_2(tmp_path):
    workdir, data_dir, folds = tmp_path / "cv", tmp_path / "data", ("--fold", "fold1", "--fold", "fold2")
    _run(_launch(workdir, data_dir, *folds), kill_at=r"crossval fold fold2 \(2/2\)[\s\S]*step 5 \|",
         workdir=workdir, and_exists="folds/fold2/checkpoints/4/commit_success.txt")
    first = workdir / "folds" / "fold1" / "test_predictions.npz"
    finished_at = first.stat().st_mtime_ns
    assert not (workdir / "folds" / "fold2" / "test_predictions.npz").exists()

    output = _run(_launch(workdir, data_dir, *folds))
    assert "crossval fold fold1 (1/2): finished, skipped" in output
    resumed = re.search(r"resuming from step (\d+)", output)
    assert resumed and int(resumed.group(1)) >= 4, output[-3000:]
    assert first.stat().st_mtime_ns == finished_at
    result = json.loads((workdir / "crossval.json").read_text())
    assert result["protocol"] == "speaker_independent"  # SEQD-synth's 'fixed' split is one fold
    assert result["folds_finished"] == ["fold1", "fold2"] and result["folds_missing"] == ["fold3", "fold4", "fold5"]
    assert result["pooled"]["n"] == sum(fold["n"] for fold in result["folds"].values())
    assert "MISSING: fold3, fold4, fold5" in (workdir / "crossval.md").read_text()
    assert (workdir / "crossval_confusion.png").exists()
