"""--mode crossval end to end on tiny runs: SEQD-synth killed mid-fold and resumed; an IEMOCAP-layout tree."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import ml_collections
import pytest

from speecheq_jax.jobs.crossval import crossval
from tests.corpora import fixtures
from tests.test_configs import load_config_module
from tests.tiny_run import shrink
from tests.train.test_kill_restart import _run
from tests.train.test_preemption import OVERRIDES

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
STEPS = 8


def _tiny(config: ml_collections.ConfigDict, data_dir: Path) -> ml_collections.ConfigDict:
    """2 steps of a 1-layer width-32 model, batches of 4 in one bucket, one device."""
    return shrink(config, data_dir, batch_size=4, buckets=(128,), steps=2, devices=1)


def test_iemocap_layout_crossval_runs_the_five_sessions_and_pools_them(tmp_path):
    root = fixtures.make_iemocap(tmp_path / "IEMOCAP")
    for seed, wav in enumerate(sorted(root.rglob("*.wav"))):  # long enough for the transcripts' phonemes
        fixtures.write_wav(wav, seconds=1.2, seed=seed)
    config = _tiny(load_config_module("iemocap").get_config(f"size=tiny,root={root}"), tmp_path / "data")
    result = crossval(config, tmp_path / "cv")
    assert result["protocol"] == "leave_one_session_out" and result["folds_missing"] == []
    assert list(result["folds"]) == [f"session{n}" for n in range(1, 6)]
    assert result["pooled"]["n"] == sum(fold["n"] for fold in result["folds"].values())
    assert {"category/ua", "intensity/mae", "phoneme/per", "gender/accuracy"} <= result["pooled"].keys()
    assert result["pooled"]["category/confusion"]["labels"] == ["neutral", "happy", "angry", "sad"]
    assert "speaker-disjoint" in result["validation"]
    again = crossval(config, tmp_path / "cv", aggregate_only=True)  # nothing rerun: same numbers
    assert again["pooled"] == result["pooled"]


def test_emobox_fixture_trains_and_tests_its_own_folds_and_names_its_bad_lines(tmp_path):
    dataset, audio = fixtures.make_emobox(tmp_path / "emobox")
    config = load_config_module("emobox").get_config(f"dataset={dataset},root={audio},size=tiny")
    result = crossval(_tiny(config, tmp_path / "data"), tmp_path / "cv")
    assert result["corpus"] == "emobox" and result["protocol"] == "official"
    assert result["folds_finished"] == ["fold1", "fold2", "fold3"]
    assert [fold["n"] for fold in result["folds"].values()] == [4, 4, 3]  # Ses03F_impro01_M001 excluded
    report = (tmp_path / "cv" / "crossval.md").read_text()
    assert "| fold | WA | UA | macro-F1 | EQ |" in report and "**mean ± std**" in report
    mapping = json.loads((tmp_path / "cv" / "folds" / "fold1" / "label_mapping.json").read_text())
    reasons = sorted(e["reason"] for e in mapping["corpora"]["emobox"]["excluded_files"])
    assert reasons == sorted(["label line breaks the scheme"] * 2 + ["audio file missing", "unknown label code",
                                                                      "key in both train and test of a fold",
                                                                      "duplicate key"])


def _launch(workdir: Path, data_dir: Path, *args: str) -> subprocess.Popen:
    """`main --mode crossval` on test_preemption's tiny SEQD-synth run, 8 steps, a checkpoint every 2."""
    overrides = [o for o in OVERRIDES if "eval_every" not in o and "checkpoint_every" not in o]
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", f"{REPO}/configs/demo.py:steps={STEPS}",
               "--workdir", str(workdir), "--mode", "crossval", f"--config.data.data_dir={data_dir}", *overrides,
               "--config.train.eval_every=4", "--config.train.checkpoint_every=2", *args]
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin:/usr/local/bin",
           "JAX_COMPILATION_CACHE_DIR": os.environ.get("JAX_COMPILATION_CACHE_DIR", "")}
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
