"""Prediction inputs and records: directories of any readable format, refused files, padding."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from speecheq_jax.eval import prediction_io
from speecheq_jax.features import audio_file, logmel
from speecheq_jax.frames import NUM_MELS

pytestmark = pytest.mark.unit


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * logmel.SAMPLE_RATE)) / logmel.SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_directories_take_every_soundfile_format(tmp_path):
    (tmp_path / "sub").mkdir()
    for name, fmt in (("a.wav", "WAV"), ("b.flac", "FLAC"), ("sub/c.ogg", "OGG"), ("D.WAV", "WAV")):
        soundfile.write(tmp_path / name, _tone(0.5), logmel.SAMPLE_RATE, format=fmt)
    (tmp_path / "notes.txt").write_text("not audio")
    paths = prediction_io.expand_inputs([tmp_path])
    assert sorted(p.name for p in paths) == ["D.WAV", "a.wav", "b.flac", "c.ogg"]
    mels, errors = prediction_io.read_logmels(paths, min_seconds=0.25)
    assert errors == {} and all(m.shape == (logmel.num_frames(8000), NUM_MELS) for m in mels.values())


def test_unreadable_and_too_short_files_get_one_line_errors(tmp_path):
    soundfile.write(tmp_path / "ok.wav", _tone(0.5), logmel.SAMPLE_RATE)
    soundfile.write(tmp_path / "blip.wav", np.zeros(160, np.float32), logmel.SAMPLE_RATE)  # 10 ms of silence
    (tmp_path / "broken.wav").write_bytes(b"not a wav file")
    inputs = [tmp_path / "ok.wav", tmp_path / "blip.wav", tmp_path / "broken.wav", tmp_path / "missing.wav"]
    mels, errors = prediction_io.read_logmels(inputs, min_seconds=0.25)
    assert list(mels) == [str(tmp_path / "ok.wav")]
    assert "too short (0.010 s; at least 0.25 s needed)" in errors[str(tmp_path / "blip.wav")]
    assert audio_file.UNDECODABLE in errors[str(tmp_path / "broken.wav")]
    assert audio_file.MISSING in errors[str(tmp_path / "missing.wav")]
    assert all("\n" not in message for message in errors.values())


def test_pad_logmels_normalises_and_masks():
    mels = [np.full((3, 80), 2.0, np.float32), np.full((5, 80), 4.0, np.float32)]
    logmel, mask = prediction_io.pad_logmels(mels, np.full(80, 1.0, np.float32), np.full(80, 2.0, np.float32), 3, 8)
    assert logmel.shape == (3, 8, 80) and mask.shape == (3, 8)
    assert mask.sum(axis=1).tolist() == [3, 5, 0]
    np.testing.assert_array_equal(logmel[0, :3], 0.5)
    np.testing.assert_array_equal(logmel[1, :5], 1.5)
    assert not logmel[~mask].any()


def test_records_name_labels_from_the_card():
    card = {"labels": {"categories": ["calm", "loud"], "genders": ["F", "M"]}, "phonemes": ["a", "b"]}
    outputs = {"category_prob": np.array([[0.2, 0.8], [0.5, 0.5]]), "intensity": np.array([0.25, 0.0]),
               "gender_prob": np.array([[0.9, 0.1], [0.5, 0.5]]),
               "phoneme_ids": np.array([[1, 1, 0, 2], [0, 0, 0, 0]]), "out_mask": np.array([[1, 1, 1, 1], [1, 0, 0, 0]], bool)}
    (record,) = prediction_io.prediction_records(["x.wav"], outputs, card)
    assert record == {"path": "x.wav", "category": "loud", "category_probs": {"calm": 0.2, "loud": 0.8},
                      "intensity": 0.25, "gender": "F", "gender_probs": {"F": 0.9, "M": 0.1}, "phonemes": "a b"}
