"""End to end on a tiny generated corpus: train on 8 devices, checkpoint, resume,
stop on NaN, evaluate on 1 device, predict."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.data import pipeline
from speecheq_jax.eval import predict as predict_lib
from speecheq_jax.eval import run as eval_run
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import compile_ahead
from speecheq_jax.train import loop
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib

pytestmark = pytest.mark.integration
CONFIG_FILE = Path(__file__).parents[2] / "configs" / "demo.py"
BEST = "valid/overall/category/ua"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speecheq_data")


def _config(data_dir: Path, steps: int = 4, devices: int = -1):
    spec = importlib.util.spec_from_file_location("demo_config", CONFIG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(f"steps={steps}")
    config.data.data_dir = str(data_dir)
    config.data.synth = {"num": 48, "seed": 0, "langs": ("cmn", "eng")}
    config.data.batch_size = 8
    config.data.buckets = (384, 768)
    config.model.update({"num_layers": 1, "d_model": 32, "num_heads": 2, "pooling_attention_dim": 16})
    config.optim.warmup_steps = 1
    config.train.update({"log_every": 1, "eval_every": 2})
    config.mesh.shape = (devices,)
    return config


def _params(workdir: Path, config, step: int) -> list[np.ndarray]:
    mesh = mesh_lib.make_mesh(config)
    spec = pipeline.load_spec(config.data)
    target = state_lib.abstract_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    ckpt = checkpoint_lib.Checkpointer(workdir, best_metric=checkpoint_lib.best_metric_name(config))
    state = ckpt.restore(step, target)
    ckpt.close()
    _, params, _ = nnx.split(nnx.merge(target.train_def, state), nnx.Param, ...)
    return [np.asarray(p) for p in jax.tree.leaves(params)]


def _failing_step(monkeypatch, *, at_call: int, make_batch_bad: bool):
    """Patches the compiled train step: from call `at_call` on, interrupt (or poison the batch with NaN)."""
    real = compile_ahead.CompiledStep.__call__
    calls = {"n": 0}

    def wrapped(self, state, batch):
        if self.name == "train step":
            calls["n"] += 1
            if calls["n"] >= at_call:
                if not make_batch_bad:
                    raise KeyboardInterrupt("simulated preemption")
                batch = dict(batch, logmel=batch["logmel"] * np.float32("nan"))
        return real(self, state, batch)

    monkeypatch.setattr(compile_ahead.CompiledStep, "__call__", wrapped)


def test_train_evaluate_on_one_device_and_predict(data_dir, tmp_path):
    config = _config(data_dir)
    results = loop.train_and_evaluate(config, tmp_path)
    for name in ("report.md", "metrics.json", "metrics.jsonl", "curves.png", "confusion_test.png", "label_mapping.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if "train/loss" in h] == [1, 2, 3, 4]
    assert any("valid/overall/category/ua" in h for h in history)
    test = results["test"]["overall"]
    assert test["category/n"] > 0 and 0.0 <= test["category/ua"] <= 1.0
    assert "seqd_synth" in results["test"]["corpora"]

    one_device = _config(data_dir, devices=1)
    again = eval_run.evaluate_checkpoint(one_device, tmp_path, results["step"], splits=("test",))
    for key in ("category/wa", "category/ua", "gender/accuracy", "intensity/mae", "phoneme/per"):
        assert again["test"]["overall"][key] == pytest.approx(test[key], abs=1e-6), key

    wavs = sorted(data_dir.rglob("*.wav"))[:3]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not a wav file")
    inputs = [str(wavs[0]), str(bad), str(wavs[1]), str(wavs[2])]
    batched = predict_lib.predict(one_device, tmp_path, inputs, checkpoint="latest", batch_size=4)
    single = [predict_lib.predict(one_device, tmp_path, [p], checkpoint="latest", batch_size=1)[0] for p in inputs]
    assert [r["path"] for r in batched] == inputs
    assert "error" in batched[1] and "error" not in batched[0]
    # SEQD-synth has six emotions: the run's head, predictions and report know no "disgust".
    six = ["neutral", "happy", "angry", "sad", "surprise", "fear"]
    assert list(batched[0]["category_probs"]) == six
    assert json.loads((tmp_path / "label_mapping.json").read_text())["categories"] == six
    assert test["category/confusion"]["labels"] == six
    for a, b in zip(batched, single):
        if "error" in a:
            continue
        assert a["category"] == b["category"] and a["phonemes"] == b["phonemes"]
        np.testing.assert_allclose(list(a["category_probs"].values()), list(b["category_probs"].values()), atol=1e-5)
        assert a["intensity"] == pytest.approx(b["intensity"], abs=1e-5)
        assert sum(a["category_probs"].values()) == pytest.approx(1.0, abs=1e-4)


def test_restart_resumes_exactly(data_dir, tmp_path, monkeypatch):
    config = _config(data_dir)
    loop.train_and_evaluate(config, tmp_path / "straight")
    with monkeypatch.context() as patch:
        _failing_step(patch, at_call=3, make_batch_bad=False)
        with pytest.raises(KeyboardInterrupt):
            loop.train_and_evaluate(config, tmp_path / "restarted")
    assert checkpoint_lib.Checkpointer(tmp_path / "restarted", best_metric=BEST).latest_step() == 2
    loop.train_and_evaluate(config, tmp_path / "restarted")
    straight = _params(tmp_path / "straight", config, 4)
    restarted = _params(tmp_path / "restarted", config, 4)
    assert len(straight) > 10
    for a, b in zip(straight, restarted):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_nan_stops_cleanly_with_a_checkpoint_to_go_back_to(data_dir, tmp_path, monkeypatch):
    config = _config(data_dir)
    _failing_step(monkeypatch, at_call=3, make_batch_bad=True)
    with pytest.raises(loop.NonFiniteLossError, match=r"step 3.*last good checkpoint: step 2"):
        loop.train_and_evaluate(config, tmp_path)
    assert checkpoint_lib.Checkpointer(tmp_path, best_metric=BEST).latest_step() == 2
    assert all(np.all(np.isfinite(p)) for p in _params(tmp_path, config, 2))
