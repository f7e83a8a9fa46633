"""End to end on a tiny generated corpus: train on 8 devices, checkpoint, resume,
stop on NaN, evaluate on 1 device, predict."""

from __future__ import annotations

import collections
import gc
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from speecheq_jax.jobs import evaluate_checkpoint as evaluate_lib
from speecheq_jax.jobs import predict_files as predict_lib
from speecheq_jax.jobs import train_and_evaluate as train_lib
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import compile_ahead
from speecheq_jax.train import state as state_lib
from speecheq_jax.train.finite import NonFiniteLossError
from tests.tiny_run import BEST, checkpoint_params, tiny_demo_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speecheq_data")


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


def _extra_state_bytes_at_first_step(monkeypatch) -> dict[str, float]:
    """Patches the train step; at its first call records `share`: the bytes of live device arrays
    shaped like state leaves (same shape and dtype) beyond the state itself, over the state's bytes.

    One state alive gives ~0; an initialised state kept beside the restored one gives >= 1.
    """
    real = compile_ahead.CompiledStep.__call__
    seen: dict[str, float] = {}

    def wrapped(self, state, batch):
        if self.name == "train step" and not seen:
            leaves = jax.tree.leaves(state)
            size = {(x.shape, str(x.dtype)): x.nbytes for x in leaves}
            extra = (collections.Counter((x.shape, str(x.dtype)) for x in jax.live_arrays())
                     - collections.Counter((x.shape, str(x.dtype)) for x in leaves))
            seen["share"] = sum(n * size[key] for key, n in extra.items() if key in size) / sum(size.values())
        return real(self, state, batch)

    monkeypatch.setattr(compile_ahead.CompiledStep, "__call__", wrapped)
    return seen


def test_train_evaluate_on_one_device_and_predict(data_dir, tmp_path):
    config = tiny_demo_config(data_dir)
    results = train_lib.train_and_evaluate(config, tmp_path)
    for name in ("report.md", "metrics.json", "metrics.jsonl", "curves.png", "confusion_test.png", "label_mapping.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if "train/loss" in h] == [1, 2, 3, 4]
    assert any("valid/overall/category/ua" in h for h in history)
    test = results["test"]["overall"]
    assert test["category/n"] > 0 and 0.0 <= test["category/ua"] <= 1.0
    assert "seqd_synth" in results["test"]["corpora"]

    # The model comes from the checkpoint: a command-line config for another model changes only the mesh.
    one_device = tiny_demo_config(data_dir, devices=1, num_layers=3)
    again = evaluate_lib.evaluate_checkpoint(one_device, tmp_path, results["step"], splits=("test",))
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
        assert a["category"] == b["category"]
        assert [s["phonemes"] for s in a["segments"]] == [s["phonemes"] for s in b["segments"]]
        np.testing.assert_allclose(list(a["category_probs"].values()), list(b["category_probs"].values()), atol=1e-5)
        assert a["intensity"] == pytest.approx(b["intensity"], abs=1e-5)
        assert sum(a["category_probs"].values()) == pytest.approx(1.0, abs=1e-4)


def test_restart_resumes_exactly(data_dir, tmp_path, monkeypatch):
    config = tiny_demo_config(data_dir)
    train_lib.train_and_evaluate(config, tmp_path / "straight")
    with monkeypatch.context() as patch:
        _failing_step(patch, at_call=3, make_batch_bad=False)
        with pytest.raises(KeyboardInterrupt):
            train_lib.train_and_evaluate(config, tmp_path / "restarted")
    assert checkpoint_lib.Checkpointer(tmp_path / "restarted", best_metric=BEST).latest_step() == 2
    with monkeypatch.context() as patch:
        patch.setattr(state_lib, "init_train_state", lambda *_: pytest.fail("a resumed run initialised a state"))
        extra = _extra_state_bytes_at_first_step(patch)
        gc.collect()  # the interrupted run's frames
        train_lib.train_and_evaluate(config, tmp_path / "restarted")
    assert extra["share"] < 0.5, f"a second copy of the state is alive after resume: {extra}"
    straight = checkpoint_params(tmp_path / "straight", config, 4)
    restarted = checkpoint_params(tmp_path / "restarted", config, 4)
    assert len(straight) > 10
    for a, b in zip(straight, restarted):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_nan_stops_cleanly_with_a_checkpoint_to_go_back_to(data_dir, tmp_path, monkeypatch):
    config = tiny_demo_config(data_dir)
    _failing_step(monkeypatch, at_call=3, make_batch_bad=True)
    with pytest.raises(NonFiniteLossError, match=r"step 3.*last good checkpoint: step 2"):
        train_lib.train_and_evaluate(config, tmp_path)
    assert checkpoint_lib.Checkpointer(tmp_path, best_metric=BEST).latest_step() == 2
    assert all(np.all(np.isfinite(p)) for p in checkpoint_params(tmp_path, config, 2))
