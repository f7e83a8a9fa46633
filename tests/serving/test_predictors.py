"""Recordings through both predictors: the same windows and numbers from JAX and onnxruntime,
segments on the speech, flags instead of predictions for silence and noise, batches that do not
change a window's outputs, and a timeline per file."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from speecheq_jax import predict as onnx_predict
from speecheq_jax.jobs import predict_files as jax_predict
from speecheq_jax.serving.onnx_model import OnnxModel
from speecheq_jax.serving.recording import RecordingPredictor

pytestmark = pytest.mark.integration
TOLERANCE = 2e-3


def _inputs(served) -> list[str]:
    names = ("long.wav", "silence.wav", "noise.wav", "clipped.wav")
    return [str(served.recordings / name) for name in names] + [str(served.utterances[1])]


@pytest.fixture(scope="module")
def onnx_records(served, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("onnx")
    output = out_dir / "onnx.jsonl"
    code = onnx_predict.main(["--model", str(served.export), "--input", *_inputs(served), "--output", str(output),
                              "--timeline", str(out_dir / "timelines")])
    assert code == 0
    return [json.loads(line) for line in output.read_text().splitlines()]


def _assert_close(a: dict, b: dict, atol: float) -> None:
    for key in ("category_probs", "gender_probs"):
        assert a[key].keys() == b[key].keys()
        np.testing.assert_allclose(list(a[key].values()), list(b[key].values()), atol=atol)
    assert a["intensity"] == pytest.approx(b["intensity"], abs=atol)


def test_jax_and_onnx_cut_the_same_segments_and_agree(served, onnx_records):
    with_jax = jax_predict.predict(served.config, served.workdir, _inputs(served), checkpoint="latest")
    assert [r["path"] for r in with_jax] == [r["path"] for r in onnx_records]
    for a, b in zip(with_jax, onnx_records):
        assert a["flags"] == b["flags"] and len(a["segments"]) == len(b["segments"])
        for sa, sb in zip(a["segments"], b["segments"]):
            assert (sa["start"], sa["end"]) == (sb["start"], sb["end"])
            _assert_close(sa, sb, TOLERANCE)
        if a["segments"]:
            _assert_close(a, b, TOLERANCE)


def test_segments_follow_the_speech_and_the_summary_weighs_them(served, onnx_records):
    record = onnx_records[0]
    assert record["duration"] == pytest.approx(served.truth[-1][1] + 1.0, abs=1.1) and not record["flags"]
    segments = record["segments"]
    covered = sum(max(0.0, min(e, s["end"]) - max(b, s["start"])) for b, e in served.truth for s in segments)
    speech = sum(e - b for b, e in served.truth)
    assert covered / speech > 0.9 and record["speech_seconds"] < speech * 1.2
    assert all(s["end"] - s["start"] <= 7.67 for s in segments)
    weights = np.array([s["end"] - s["start"] for s in segments])
    for name, p in record["category_probs"].items():
        assert p == pytest.approx(np.dot(weights, [s["category_probs"][name] for s in segments]) / weights.sum(),
                                  abs=1e-5)
    assert record["category"] == max(record["category_probs"], key=record["category_probs"].get)
    assert all("phonemes" in s for s in segments)


def test_silence_noise_and_clipping_are_flagged_once(served, caplog):
    model = OnnxModel(served.export)
    with caplog.at_level(logging.WARNING):
        records = list(RecordingPredictor(model, model.card).predict(_inputs(served)[1:4]))
    silence, noise, clipped = records
    assert silence["flags"] == ["silence"] and noise["flags"] == ["no_speech"] and "clipped" in clipped["flags"]
    assert "category" not in silence and not silence["segments"] and not noise["segments"]
    assert clipped["segments"] and "category" in clipped
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("\n" not in w for w in warnings)


def test_batched_windows_equal_windows_one_at_a_time(served, onnx_records):
    model = OnnxModel(served.export)
    (single,) = RecordingPredictor(model, model.card, cap=1).predict([served.recordings / "long.wav"])
    batched = onnx_records[0]
    assert len(batched["segments"]) > 3
    for a, b in zip(single["segments"], batched["segments"]):
        _assert_close(a, b, 1e-5)
    (jax_single,) = jax_predict.predict(served.config, served.workdir, [served.recordings / "long.wav"],
                                        checkpoint="latest", batch_size=1)
    for a, b in zip(jax_single["segments"], batched["segments"]):
        _assert_close(a, b, TOLERANCE)


def test_every_predicted_file_has_a_timeline_png(onnx_records):
    for record in onnx_records:
        if "error" not in record:
            with open(record["timeline"], "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
