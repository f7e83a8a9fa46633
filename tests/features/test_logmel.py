"""Log-mel against librosa (test-only dependency), batched vs single, CMVN sums."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from speecheq_jax.features import logmel


def _speechlike(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Harmonic tone with a silent gap and noise: loud, quiet and silent frames."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(0.2 / k * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 8)) + 0.01 * rng.standard_normal(t.size)
    wave[t.size // 3 : t.size // 2] = 0.0
    return wave.astype(np.float32)


def _librosa_log_mel(samples: np.ndarray) -> np.ndarray:
    power = librosa.feature.melspectrogram(y=samples, sr=16000, n_fft=512, win_length=400, hop_length=160,
                                           n_mels=80, power=2.0, center=True, pad_mode="constant")
    return np.log(power + 1e-6).T


@pytest.mark.unit
@pytest.mark.parametrize("seconds", [0.01, 0.5, 1.37])
def test_log_mel_matches_librosa(seconds):
    wave = _speechlike(seconds, 16000, seed=1)
    ours = logmel.log_mel(wave, 16000)
    assert ours.shape == (1 + wave.size // 160, 80) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, _librosa_log_mel(wave), atol=1e-4)


@pytest.mark.unit
def test_other_rates_and_stereo_are_resampled_and_mixed_down():
    wave = _speechlike(1.0, 48000, seed=2)
    stereo = np.stack([wave, 0.5 * wave], axis=1)
    expected = _librosa_log_mel(librosa.resample(0.75 * wave, orig_sr=48000, target_sr=16000, res_type="polyphase"))
    np.testing.assert_allclose(logmel.log_mel(stereo, 48000), expected, atol=1e-3)


@pytest.mark.unit
def test_batched_equals_single():
    waves = [_speechlike(s, 16000, seed=i) for i, s in enumerate((0.2, 1.1, 2.3, 0.05))]
    batched = logmel.log_mel_many(waves, batch_size=3)
    for wave, mel in zip(waves, batched):
        np.testing.assert_allclose(mel, logmel.log_mel(wave), atol=1e-4)


@pytest.mark.unit
def test_mel_stats_merge_equals_pooled_moments():
    rng = np.random.default_rng(0)
    parts = [rng.normal(2.0, 3.0, size=(n, 80)) for n in (5, 17, 40)]
    stats = logmel.MelStats()
    for part in parts:
        single = logmel.MelStats()
        single.add(part)
        stats = stats.merge(logmel.MelStats.from_dict(single.to_dict()))
    mean, std = stats.mean_std()
    pooled = np.concatenate(parts)
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(std, pooled.std(axis=0), rtol=1e-5)
