"""Prediction on raw audio with JAX: `--mode predict --input PATH... [--timeline DIR]`.

Restores a checkpoint (its model card says everything about the data, so no
prepared dataset is read) and predicts recordings of any length with the
shared recording predictor (speecheq_jax/serving/recording.py): voice
activity, windows no longer than the longest training bucket, batches packed
by length; the same JSON lines as the ONNX predictor. `JaxModel` is the eval
step behind it: windows are padded to a training bucket (compiled once per
bucket and batch size) and batches to a power of two rows that the mesh
divides, so a file of one window is one small batch, not a batch of 32.
Padding never reaches the model's outputs, so a window's prediction does not
depend on the other windows of its batch (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import ml_collections
import numpy as np

from speecheq_jax import storage
from speecheq_jax.export.forward import make_waveform_forward
from speecheq_jax.frames import LOGMEL, SUBSAMPLING, WAVEFORM_ROUTE
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.jobs.evaluate_checkpoint import Restored, restore_for_eval
from speecheq_jax.jobs.ssl_inference import waveform_model
from speecheq_jax.serving import files
from speecheq_jax.serving.model_inputs import encoder_samples
from speecheq_jax.serving.recording import RecordingPredictor
from speecheq_jax.train import mesh as mesh_lib


class JaxModel:
    """A restored checkpoint's eval step as a `serving.recording.Model`."""

    def __init__(self, restored: Restored):
        self.restored = restored
        self.lengths = tuple(restored.spec.buckets)
        self._sharding = mesh_lib.batch_sharding(restored.mesh)

    def rows(self, count: int) -> int:
        """The smallest power of two >= count that the mesh's devices divide (few shapes to compile)."""
        rows = max(1 << (count - 1).bit_length(), self.restored.mesh.size)
        return -(-rows // self.restored.mesh.size) * self.restored.mesh.size

    def run(self, logmel: np.ndarray, frame_mask: np.ndarray) -> Mapping[str, np.ndarray]:
        rows, frames = frame_mask.shape
        batch = batch_lib.zeros(rows, frames, frames // SUBSAMPLING)
        batch["logmel"], batch["frame_mask"] = logmel, frame_mask
        batch["example_mask"][:] = frame_mask.any(axis=1)
        batch["index"][:] = -1
        outputs, _ = self.restored.eval_step(self.restored.state, jax.device_put(batch, self._sharding))
        return jax.device_get(outputs)


class WaveformJaxModel:
    """A restored SSL-route checkpoint with its encoder inside (`jobs.ssl_inference`) as a `serving.recording.Model`.

    Windows are padded to the sample length of a training bucket (`serving.model_inputs.encoder_samples`) and
    batches to a power of two rows; the forward is jitted once per shape, on one device.
    """

    def __init__(self, restored: Restored):
        self.forward = jax.jit(make_waveform_forward(waveform_model(restored)))
        encoder = restored.card["features"]["encoder"]
        self.lengths = tuple(restored.spec.buckets) if restored.spec.layout.route == WAVEFORM_ROUTE else tuple(
            encoder_samples(encoder, bucket) for bucket in restored.spec.buckets)  # fine-tuned: buckets in samples

    def rows(self, count: int) -> int:
        return 1 << (count - 1).bit_length()

    def run(self, waveform: np.ndarray, sample_mask: np.ndarray) -> Mapping[str, np.ndarray]:
        return jax.device_get(self.forward(waveform, sample_mask))


def recording_predictor(config: ml_collections.ConfigDict | None, workdir: str | Path, checkpoint: str | int = "best",
                        cap: int = 8, progress: bool = False) -> RecordingPredictor:
    """The recording predictor over a restored checkpoint (batches of at most `cap` windows)."""
    restored = restore_for_eval(config, workdir, checkpoint)
    model = JaxModel(restored) if restored.spec.layout == LOGMEL else WaveformJaxModel(restored)
    return RecordingPredictor(model, restored.card, cap=cap, progress=progress)


def predict(config: ml_collections.ConfigDict | None, workdir: str | Path, inputs: Sequence[str | Path], *,
            checkpoint: str | int = "best", batch_size: int = 8) -> list[dict]:
    """One record per input file, in input order ({'path', 'error'} for files not predicted).

    `batch_size`: most speech windows per batch.
    """
    paths = files.expand_inputs(inputs)
    if not paths:
        raise FileNotFoundError(f"no input audio found in {list(map(str, inputs))}")
    return list(recording_predictor(config, workdir, checkpoint, batch_size).predict(paths))


def predict_files(config: ml_collections.ConfigDict | None, workdir: str | Path, inputs: Sequence[str | Path],
                  output: storage.PathLike, *, checkpoint: str | int = "best", timeline: str | Path | None = None
                  ) -> storage.AnyPath:
    """`predict` written as JSON lines to `output` (timelines into `timeline`); errors are reported, not fatal."""
    predictor = recording_predictor(config, workdir, checkpoint, progress=True)
    return files.predict_files(predictor, inputs, output, timeline)[0]
