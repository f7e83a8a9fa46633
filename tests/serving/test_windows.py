"""Windows cut from speech regions and packed into batches; spans read at 16 kHz from any rate."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from speecheq_jax.features import logmel
from speecheq_jax.serving import vad, windows
from speecheq_jax.serving.audio_source import AudioSource
from speecheq_jax.serving.levels import CLIPPED, NO_SPEECH, SILENCE, Levels

pytestmark = pytest.mark.unit


def test_long_regions_are_cut_into_equal_windows_that_fit():
    max_samples = windows.max_window_samples(768)
    assert logmel.num_frames(max_samples) == 768
    cut = windows.cut([(0, 1000), (5000, 5000 + int(2.2 * max_samples)), (10**7, 10**7 + 100)], max_samples, 500)
    assert cut[0] == (0, 1000) and len(cut) == 4  # the 100-sample region is dropped
    lengths = [b - a for a, b in cut[1:]]
    assert max(lengths) <= max_samples and max(lengths) - min(lengths) <= 1
    assert cut[1][0] == 5000 and cut[-1][1] == 5000 + int(2.2 * max_samples)


def test_batches_hold_one_length_and_at_most_cap_rows():
    frames = [700, 100, 390, 768, 383, 50, 600, 700, 700]
    batches = windows.pack(frames, (384, 768), cap=3)
    assert [(length, len(members)) for length, members in batches] == [(384, 3), (768, 3), (768, 3)]
    assert sorted(i for _, members in batches for i in members) == list(range(len(frames)))
    assert all(frames[i] <= length for length, members in batches for i in members)
    assert windows.pack([120], (384, 768), cap=32) == [(384, [0])]


@pytest.mark.parametrize("rate", [16000, 44100, 8000])
def test_spans_equal_the_whole_file_resampled(tmp_path, rate):
    stereo = 0.3 * np.random.default_rng(rate).standard_normal((rate * 2 + 7, 2)).astype(np.float32)
    soundfile.write(tmp_path / "x.wav", stereo, rate, subtype="FLOAT")
    whole = logmel.to_mono_16k(stereo, rate)
    source = AudioSource(tmp_path / "x.wav")
    assert source.num_samples == len(whole)
    np.testing.assert_allclose(np.concatenate(list(source.blocks(5000))), whole, atol=1e-6)
    np.testing.assert_allclose(source.read(1234, 20000), whole[1234:20000], atol=1e-6)


def test_speech_regions_bridge_short_pauses_and_drop_blips():
    frame = vad.FRAME / 16000
    probs = np.zeros(int(10 / frame), np.float32)
    probs[int(1 / frame) : int(3 / frame)] = 0.9
    probs[int(3.1 / frame) : int(4 / frame)] = 0.9  # a 0.1 s pause: one region
    probs[int(6 / frame) : int(6.1 / frame)] = 0.9  # a 0.1 s blip: dropped
    (region,) = vad.speech_regions(probs, len(probs) * vad.FRAME)
    assert region[0] / 16000 == pytest.approx(1 - vad.PAD, abs=0.04)
    assert region[1] / 16000 == pytest.approx(4 + vad.PAD, abs=0.04)


def test_levels_flag_silence_noise_and_clipping():
    silent, quiet, loud = Levels(), Levels(), Levels()
    silent.add(np.zeros(16000, np.float32))
    quiet.add(np.full(16000, 0.1, np.float32))
    loud.add(np.r_[np.ones(100), np.zeros(900)].astype(np.float32))
    assert silent.flags(has_speech=False) == [SILENCE]
    assert quiet.flags(has_speech=False) == [NO_SPEECH] and quiet.flags(has_speech=True) == []
    assert loud.flags(has_speech=True) == [CLIPPED] and "10.00%" in loud.warning(CLIPPED)
