"""Files through the recording predictor with a stand-in runtime: directories of any readable
format, one-line errors for files that cannot be predicted, records in input order."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from speecheq_jax.features import audio_file, logmel
from speecheq_jax.serving import files
from speecheq_jax.serving.recording import RecordingPredictor

pytestmark = pytest.mark.unit
CARD = {"buckets": [384, 768], "features": {"min_seconds": 0.25}, "labels": {"categories": ["calm", "loud"]},
        "cmvn": {"pooled": {"mean": [0.0] * 80, "std": [1.0] * 80}}}


class _Loudness:
    """A runtime whose 'loud' probability is the sigmoid of a window's mean normalised log-mel."""

    lengths = (384, 768)

    def rows(self, count: int) -> int:
        return count

    def run(self, logmel_batch: np.ndarray, frame_mask: np.ndarray) -> dict[str, np.ndarray]:
        mean = logmel_batch.sum(axis=(1, 2)) / (80 * frame_mask.sum(axis=1))
        loud = 1 / (1 + np.exp(-(mean + 8)))
        return {"category_prob": np.stack([1 - loud, loud], axis=1)}


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * logmel.SAMPLE_RATE)) / logmel.SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_directories_take_every_soundfile_format(tmp_path):
    (tmp_path / "sub").mkdir()
    for name, fmt in (("a.wav", "WAV"), ("b.flac", "FLAC"), ("sub/c.ogg", "OGG"), ("D.WAV", "WAV")):
        soundfile.write(tmp_path / name, _tone(0.5), logmel.SAMPLE_RATE, format=fmt)
    (tmp_path / "notes.txt").write_text("not audio")
    assert sorted(p.name for p in files.expand_inputs([tmp_path])) == ["D.WAV", "a.wav", "b.flac", "c.ogg"]


def test_unreadable_and_too_short_files_get_one_line_errors_in_input_order(tmp_path):
    soundfile.write(tmp_path / "ok.wav", _tone(0.5), logmel.SAMPLE_RATE)
    soundfile.write(tmp_path / "blip.wav", np.zeros(160, np.float32), logmel.SAMPLE_RATE)  # 10 ms of silence
    (tmp_path / "broken.wav").write_bytes(b"not a wav file")
    (tmp_path / "empty.wav").write_bytes(b"")
    names = ["ok.wav", "blip.wav", "broken.wav", "missing.wav", "empty.wav"]
    records = list(RecordingPredictor(_Loudness(), CARD).predict([tmp_path / n for n in names]))
    assert [r["path"] for r in records] == [str(tmp_path / n) for n in names]
    assert "error" not in records[0]
    errors = [r["error"] for r in records[1:]]
    assert "audio too short (0.010 s; at least 0.25 s needed)" in errors[0]
    for message, reason in zip(errors[1:], (audio_file.UNDECODABLE, audio_file.MISSING, audio_file.ZERO_LENGTH)):
        assert reason in message and "\n" not in message


def test_write_jsonl_counts_predicted_and_failed_files(tmp_path):
    soundfile.write(tmp_path / "ok.wav", _tone(0.5), logmel.SAMPLE_RATE)
    (tmp_path / "broken.wav").write_bytes(b"not a wav file")
    predictor = RecordingPredictor(_Loudness(), CARD)
    output, done, failed = files.predict_files(predictor, [tmp_path], tmp_path / "out" / "p.jsonl")
    assert (done, failed) == (1, 1) and len(output.read_text().splitlines()) == 2
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FileNotFoundError, match="no input audio"):
        files.predict_files(predictor, [(tmp_path / "empty_dir")], tmp_path / "p.jsonl")
