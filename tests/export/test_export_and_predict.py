"""End to end: train a tiny run, export it, move the prepared data away, predict with JAX
(`--mode predict`) and with the ONNX export (`python -m speecheq_jax.predict`): both work, agree
within 2e-3 on every probability, and give the same error lines for a broken and a too-short file."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile
from flax import nnx

from speecheq_jax import model_card
from speecheq_jax import predict as onnx_predict
from speecheq_jax.export import onnx_model
from speecheq_jax.export.forward import make_forward
from speecheq_jax.export.stablehlo import load_stablehlo
from speecheq_jax.frames import MIN_SECONDS
from speecheq_jax.input import pipeline
from speecheq_jax.jobs import evaluate_checkpoint as evaluate_lib
from speecheq_jax.jobs import predict_files as jax_predict
from speecheq_jax.jobs import train_and_evaluate as train_lib
from speecheq_jax.jobs.export_run import STABLEHLO_FILE, export_run
from speecheq_jax.train import checkpoint as checkpoint_lib
from tests.tiny_run import tiny_demo_config

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]
ONNX_FRAMES = (256, 512)
TOLERANCE = 2e-3


def _config(data_dir: Path, devices: int):
    """The tiny demo run: two steps, two conformer blocks, its own synthetic corpus (seed 1)."""
    return tiny_demo_config(data_dir, steps=2, devices=devices, synth_seed=1, num_layers=2)


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained and exported run whose prepared data has been moved away; audio inputs copied out first.

    The training's console output (stdout, stderr) and the project's log lines are kept for the log test.
    """
    root = tmp_path_factory.mktemp("export_run")
    data_dir, workdir, inputs = root / "data", root / "run", root / "inputs"
    console, logs = io.StringIO(), _Lines()
    project_log = logging.getLogger("speecheq_jax")
    level = project_log.level
    project_log.setLevel(logging.INFO)
    project_log.addHandler(logs)
    try:
        with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
            train_lib.train_and_evaluate(_config(data_dir, devices=-1), workdir)
    finally:
        project_log.removeHandler(logs)
        project_log.setLevel(level)
    one_device = _config(data_dir, devices=1)
    export_dir = export_run(one_device, workdir, "latest", onnx_frames=ONNX_FRAMES)
    inputs.mkdir()
    for i, wav in enumerate(sorted(data_dir.rglob("*.wav"))[:5]):
        samples, rate = soundfile.read(wav)
        soundfile.write(inputs / f"clip{i}.{('wav', 'flac', 'ogg')[i % 3]}", samples, rate)
    soundfile.write(inputs / "blip.wav", np.zeros(160, np.float32), 16000)  # 10 ms
    (inputs / "broken.wav").write_bytes(b"not a wav file")
    moved = root / "data_moved_away"
    data_dir.rename(moved)
    return {"config": one_device, "workdir": workdir, "export": export_dir, "inputs": inputs, "moved": moved,
            "console": console.getvalue().replace("\r", "\n"), "logs": logs.lines}


def test_logs_have_one_bar_and_one_summary_line_per_phase(run):
    console = run["console"]
    for chatter in ("Downloading and preparing", "Generating splits", "examples...", "Shuffling", "Subsequent calls"):
        assert chatter not in console, chatter
    for bar in ("generate SEQD-synth:", "prepare seqd_synth:", "train:", "valid:", "test:"):
        assert bar in console, bar
    summaries = [line for line in console.splitlines() if re.match(r"\[(generate|prepare)\] .* in \d+\.\d s", line)]
    assert [line.split()[0] for line in summaries] == ["[generate]", "[prepare]"]
    timed = [line for line in run["logs"] if re.match(r"(step \d+ )?(train|valid|test): .* in \d+\.\d s", line)]
    assert [re.sub(r"^step \d+ ", "", line).split(":")[0] for line in timed] == ["valid", "train", "valid", "test"]


def test_the_run_and_each_checkpoint_carry_the_model_card(run):
    card = model_card.read_card(run["workdir"])
    assert card["labels"]["categories"] == ["neutral", "happy", "angry", "sad", "surprise", "fear"]  # SEQD-synth: no disgust
    assert card["phonemes"] and len(card["cmvn"]["pooled"]["mean"]) == 80
    assert card["features"]["hop_length"] == 160 and card["features"]["min_seconds"] == MIN_SECONDS
    (data,) = card["training_data"]
    assert data["corpus"] == "seqd_synth" and data["examples"]["train"] > 0 and data["units"]["test"]
    ckpt = checkpoint_lib.Checkpointer(run["workdir"], best_metric="valid/overall/category/ua")
    assert ckpt.model_card(ckpt.latest_step()) == card
    ckpt.close()


def test_export_directory(run):
    export = run["export"]
    card = model_card.read_card(export)
    assert card["export"]["onnx"]["files"] == {str(f): onnx_model.onnx_file_name(f) for f in ONNX_FRAMES}
    assert all((export / name).stat().st_size > 100_000 for name in card["export"]["onnx"]["files"].values())
    markdown = (export / "model_card.md").read_text()
    for section in ("## Intended use and limits", "## Training data", "## Test metrics", "seqd_synth"):
        assert section in markdown


def test_jax_and_onnx_predictions_agree_without_the_training_data(run, tmp_path):
    assert not Path(run["config"].data.data_dir).exists()
    inputs = [str(run["inputs"])]
    with_jax = jax_predict.predict(run["config"], run["workdir"], inputs, checkpoint="latest", batch_size=4)
    output = tmp_path / "onnx.jsonl"
    assert onnx_predict.main(["--model", str(run["export"]), "--input", *inputs, "--output", str(output)]) == 0
    with_onnx = [json.loads(line) for line in output.read_text().splitlines()]

    assert [r["path"] for r in with_onnx] == [r["path"] for r in with_jax]
    errors = {Path(r["path"]).name: r["error"] for r in with_jax if "error" in r}
    assert set(errors) == {"blip.wav", "broken.wav"} and "too short" in errors["blip.wav"]
    predicted = [(a, b) for a, b in zip(with_jax, with_onnx) if "error" not in a]
    assert len(predicted) == 5
    for a, b in zip(with_jax, with_onnx):
        assert a.keys() == b.keys()
        if "error" in a:
            assert a["error"] == b["error"]
            continue
        for key in ("category_probs", "gender_probs"):
            assert a[key].keys() == b[key].keys()
            np.testing.assert_allclose(list(a[key].values()), list(b[key].values()), atol=TOLERANCE)
        assert a["intensity"] == pytest.approx(b["intensity"], abs=TOLERANCE)


def test_stablehlo_takes_any_length_and_matches_the_model(run):
    exported = load_stablehlo(run["export"] / STABLEHLO_FILE)
    restored = evaluate_lib.restore_for_eval(run["config"], run["workdir"], "latest")
    trainable, _ = nnx.merge(restored.eval_def, jax.device_get(restored.state))
    forward = make_forward(trainable.model)
    rng = np.random.default_rng(0)
    for batch, frames in ((1, 96), (3, 200)):
        logmel = rng.standard_normal((batch, frames, 80)).astype(np.float32)
        mask = np.ones((batch, frames), bool)
        got, want = exported.call(logmel, mask), forward(logmel, mask)
        np.testing.assert_allclose(got["category_prob"], want["category_prob"], atol=1e-5)


def test_evaluate_reads_only_the_data_it_scores(run, monkeypatch):
    run["moved"].rename(run["config"].data.data_dir)
    try:
        monkeypatch.setattr(pipeline, "load_spec", lambda *_: pytest.fail("restoring read the whole spec"))
        results = evaluate_lib.evaluate_checkpoint(run["config"], run["workdir"], "latest", splits=("test",))
        assert results["test"]["overall"]["category/n"] > 0
    finally:
        Path(run["config"].data.data_dir).rename(run["moved"])


def test_the_onnx_predictor_imports_neither_tfds_nor_the_converter():
    code = ("import sys, speecheq_jax.predict; "
            "print(sorted(m for m in ('tensorflow_datasets', 'jax2onnx', 'grain', 'orbax') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
