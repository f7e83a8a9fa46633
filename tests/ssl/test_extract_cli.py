"""`python -m speecheq_jax.ssl extract` end to end, in a subprocess, on files written here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from speecheq_jax.features import logmel
from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.extract import Extractor, output_keys
from tests.ssl.conftest import torch_hidden_states

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def run_extract(checkpoint: Path, inputs: list[Path], output: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "speecheq_jax.ssl", "extract", "--checkpoint", str(checkpoint),
               "--input", *map(str, inputs), "--output", str(output)]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_extract_writes_good_files_and_one_error_line_per_bad_one(tiny_checkpoints, tmp_path):
    checkpoint = tiny_checkpoints["wav2vec2_group"]
    rng = np.random.default_rng(1)
    mono, stereo = tmp_path / "mono.wav", tmp_path / "stereo.flac"
    soundfile.write(mono, rng.uniform(-0.5, 0.5, 6000).astype(np.float32), 16000, subtype="FLOAT")
    soundfile.write(stereo, rng.uniform(-0.5, 0.5, (9000, 2)), 22050)  # mixed down and resampled
    missing, text, short = tmp_path / "missing.wav", tmp_path / "notes.wav", tmp_path / "short.wav"
    text.write_text("not audio\n")
    soundfile.write(short, np.full(30, 0.1, np.float32), 16000)  # the tiny convs need 40
    result = run_extract(checkpoint.directory, [mono, stereo, missing, text, short], tmp_path / "out.npz")

    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stderr
    for path, reason in ((missing, "audio file missing"), (text, "cannot decode audio"), (short, "too short")):
        assert any(str(path) in line and reason in line for line in errors), (path, errors)
    with np.load(tmp_path / "out.npz") as arrays:
        assert sorted(arrays.files) == ["mono.wav", "stereo.flac"]
        expected, _ = torch_hidden_states(checkpoint.model, logmel.read_audio(mono)[None])
        assert np.max(np.abs(arrays["mono.wav"] - expected[:, 0])) <= 1e-4
        samples = len(logmel.read_audio(stereo))
        assert arrays["stereo.flac"].shape == (3, (((samples - 10) // 5 + 1 - 3) // 2 + 1 - 3) // 2 + 1, 32)


def test_output_keys_are_names_unless_names_collide():
    paths = [Path("x/a.wav"), Path("y/a.wav"), Path("b.wav"), Path("x/a.wav")]
    assert output_keys(paths) == {Path("x/a.wav"): "x/a.wav", Path("y/a.wav"): "y/a.wav", Path("b.wav"): "b.wav"}


def checkpoint_with_preprocessor(source: Path, target: Path, preprocessor: dict) -> Path:
    shutil.copytree(source, target)
    (target / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    return target


def test_waveform_normalised_when_the_checkpoint_says_so(tiny_checkpoints, tmp_path):
    source = tiny_checkpoints["wav2vec2_group"].directory
    audio = tmp_path / "a.wav"
    soundfile.write(audio, np.random.default_rng(2).uniform(0.1, 0.3, 4000).astype(np.float32), 16000,
                    subtype="FLOAT")
    raw = Extractor(source).waveform(audio)
    normalised = Extractor(checkpoint_with_preprocessor(source, tmp_path / "norm", {"do_normalize": True})
                           ).waveform(audio)
    assert raw.mean() > 0.1
    assert abs(normalised.mean()) < 1e-5 and abs(normalised.std() - 1.0) < 1e-3


def test_other_sampling_rate_is_refused(tiny_checkpoints, tmp_path):
    target = checkpoint_with_preprocessor(tiny_checkpoints["wav2vec2_group"].directory, tmp_path / "8k",
                                          {"sampling_rate": 8000})
    with pytest.raises(CheckpointError, match="sampling_rate 8000 is not 16000"):
        Extractor(target)
