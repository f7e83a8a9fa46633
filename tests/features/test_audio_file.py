"""The one audio check: each reason, and the minimum duration's link to the front end's subsampling."""

import math

import numpy as np
import pytest
import soundfile

from speecheq_jax.errors import UnusableFileError
from speecheq_jax.features import audio_file, logmel
from speecheq_jax.frames import MIN_ENCODER_FRAMES, MIN_SECONDS
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("kind", ["zero_length", "undecodable", "silent", "too_short"])
def test_each_defect_has_its_reason(tmp_path, kind):
    expected = fixtures.write_defects(tmp_path, {"x": kind})
    with pytest.raises(UnusableFileError) as error:
        audio_file.check_file(tmp_path / "x.wav")
    assert error.value.exclusion.reason == expected["x.wav"]
    assert str(error.value).startswith(f"{tmp_path / 'x.wav'}: {expected['x.wav']}")


def test_missing_and_header_only_files(tmp_path):
    with pytest.raises(UnusableFileError, match="audio file missing"):
        audio_file.check_file(tmp_path / "gone.wav")
    fixtures.write_wav(tmp_path / "empty.wav", seconds=0)
    assert (tmp_path / "empty.wav").stat().st_size > 0
    with pytest.raises(UnusableFileError, match="header only, no samples"):
        audio_file.check_file(tmp_path / "empty.wav")


def test_usable_audio_passes_even_when_quiet_or_resampled(tmp_path):
    fixtures.write_wav(tmp_path / "ok.wav")
    audio_file.check_file(tmp_path / "ok.wav")
    quiet = np.zeros(8000)
    quiet[4000] = 1 / 32768  # one least-significant bit: not all-zero
    soundfile.write(tmp_path / "quiet.wav", quiet, 16000, subtype="PCM_16")
    audio_file.check_file(tmp_path / "quiet.wav")
    soundfile.write(tmp_path / "48k.wav", np.full(int(0.17 * 48000), 0.1), 48000)
    audio_file.check_file(tmp_path / "48k.wav")


def test_min_duration_gives_the_promised_encoder_frames():
    samples = round(MIN_SECONDS * logmel.SAMPLE_RATE)
    frames = logmel.num_frames(samples)
    for _ in range(2):  # two 3x3 stride-2 convolutions with padding 1
        frames = math.ceil(frames / 2)
    assert frames == MIN_ENCODER_FRAMES
    assert math.ceil(math.ceil(logmel.num_frames(samples - 160) / 2) / 2) < MIN_ENCODER_FRAMES
