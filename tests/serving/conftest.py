"""One tiny trained run for the serving tests: checkpoint, ONNX export, test recordings.

The run is the integration tests' tiny demo (tests/tiny_run.py: one block, two
steps, one device); its export has ONNX files at both training buckets, so the
JAX and the ONNX predictor cut recordings into the same windows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import ml_collections
import numpy as np
import pytest
import soundfile

from speecheq_jax.jobs import train_and_evaluate as train_lib
from speecheq_jax.jobs.export_run import export_run
from tests.serving.recordings import RATE, write_recording
from tests.tiny_run import tiny_demo_config

BUCKETS = (384, 768)


@dataclasses.dataclass(frozen=True)
class Served:
    config: ml_collections.ConfigDict
    workdir: Path
    export: Path
    utterances: list[Path]
    recordings: Path
    truth: list[tuple[float, float]]
    """Utterance spans (s) in recordings/long.wav."""


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Served:
    root = tmp_path_factory.mktemp("served")
    config = tiny_demo_config(root / "data", steps=2, devices=1, synth_seed=2)
    config.data.buckets = BUCKETS
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        train_lib.train_and_evaluate(config, root / "run")
        export = export_run(config, root / "run", "latest", onnx_frames=BUCKETS)
    utterances = sorted((root / "data").rglob("*.wav"))[:6]
    recordings = root / "recordings"
    recordings.mkdir()
    truth = write_recording(recordings / "long.wav", utterances, seconds=30.0)
    rng = np.random.default_rng(0)
    soundfile.write(recordings / "silence.wav", np.zeros(RATE, np.float32), RATE)
    soundfile.write(recordings / "noise.wav", (0.05 * rng.standard_normal(2 * RATE)).astype(np.float32), RATE)
    speech, _ = soundfile.read(utterances[0], dtype="float32")
    soundfile.write(recordings / "clipped.wav", np.clip(speech * 50, -1, 1), RATE)
    return Served(config, root / "run", export, utterances, recordings, truth)
