"""An export directory's ONNX files as the runtime of the recording predictor (onnxruntime only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime

from speecheq_jax.model_card import read_card


def run_session(session: onnxruntime.InferenceSession, inputs: Sequence[str], batch: int | str, values: np.ndarray,
                mask: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs by name of one ONNX file on (values, mask) fed as `inputs`: at once when its batch is free ("B"),
    else `batch` rows at a time (the SSL route's files take one row: export/onnx_model.py)."""
    step = len(values) if batch == "B" else int(batch)
    names = [o.name for o in session.get_outputs()]
    parts = [session.run(None, dict(zip(inputs, (values[i:i + step], mask[i:i + step]), strict=True)))
             for i in range(0, len(values), step)]
    return {name: np.concatenate([part[k] for part in parts]) for k, name in enumerate(names)}


class OnnxModel:
    """The ONNX files of an export directory as a `serving.recording.Model`: one onnxruntime session
    per input length (opened on first use); the card says which lengths exist.

    onnxruntime's memory arena and memory patterns are off: with batches of 1 to `cap` rows at each
    length, the arena kept every shape's buffers and the peak grew with the recording (10 minutes:
    1.68 GB with them, 0.78 GB and a quarter faster without; bench/bench_predict.py).
    """

    def __init__(self, model_dir: str | Path):
        self.model_dir = Path(model_dir)
        self.card = read_card(self.model_dir)
        if "export" not in self.card:
            raise ValueError(f"{self.model_dir}: a run's model card, not an export (run --mode export first)")
        self.files = {int(frames): name for frames, name in self.card["export"]["onnx"]["files"].items()}
        onnx = self.card["export"]["onnx"]
        self.inputs, self.batch = tuple(onnx["inputs"]), onnx.get("batch", "B")
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self.files))

    def rows(self, count: int) -> int:
        """The batch dimension is dynamic: a batch is as many rows as it has windows."""
        return count

    def run(self, logmel: np.ndarray, frame_mask: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by name for logmel [B, T, 80], frame_mask [B, T], T one of the export's lengths (the card's
        inputs: waveform [B, N], sample_mask [B, N] on the SSL route)."""
        frames = logmel.shape[1]
        if frames not in self._sessions:
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # the converter's unused initializers: one warning line each
            options.enable_cpu_mem_arena = options.enable_mem_pattern = False  # see the class docstring
            self._sessions[frames] = onnxruntime.InferenceSession(
                str(self.model_dir / self.files[frames]), options, providers=["CPUExecutionProvider"])
        session = self._sessions[frames]
        return run_session(session, self.inputs, self.batch, logmel, frame_mask)
