r"""Predict with an exported model and onnxruntime: no checkpoint, no training data, no JAX arrays.

    python -m speecheq_jax.predict --model runs/demo/export --input clip.wav more_clips/ \
        --output predictions.jsonl [--timeline plots/]

`--model` is a directory written by `--mode export`. A recording of any
length is cut into speech windows by a voice-activity detector and predicted
window by window in bounded memory (speecheq_jax/serving/recording.py); each
window is padded to the shortest ONNX input length that holds it. The output
is the same JSON lines as `--mode predict` (per file: segments, summary,
flags); a file that cannot be read or is too short gets a line with its
error, and the others are still predicted. Exit status 1 when no file could
be predicted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime

from speecheq_jax.model_card import read_card
from speecheq_jax.serving.files import predict_files
from speecheq_jax.serving.recording import RecordingPredictor


class OnnxModel:
    """The ONNX files of an export directory as a `serving.recording.Model`: one onnxruntime session
    per input length (opened on first use); the card says which lengths exist."""

    def __init__(self, model_dir: str | Path):
        self.model_dir = Path(model_dir)
        self.card = read_card(self.model_dir)
        if "export" not in self.card:
            raise ValueError(f"{self.model_dir}: a run's model card, not an export (run --mode export first)")
        self.files = {int(frames): name for frames, name in self.card["export"]["onnx"]["files"].items()}
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self.files))

    def rows(self, count: int) -> int:
        """The batch dimension is dynamic: a batch is as many rows as it has windows."""
        return count

    def run(self, logmel: np.ndarray, frame_mask: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by name for logmel [B, T, 80], frame_mask [B, T], T one of the export's lengths."""
        frames = logmel.shape[1]
        if frames not in self._sessions:
            self._sessions[frames] = onnxruntime.InferenceSession(
                str(self.model_dir / self.files[frames]), providers=["CPUExecutionProvider"])
        session = self._sessions[frames]
        values = session.run(None, {"logmel": logmel, "frame_mask": frame_mask})
        return dict(zip([o.name for o in session.get_outputs()], values))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="an export directory (--mode export)")
    parser.add_argument("--input", required=True, nargs="+", action="extend", help="audio files or directories")
    parser.add_argument("--output", required=True, help="JSON-lines file to write")
    parser.add_argument("--batch_size", type=int, default=8, help="most speech windows per batch")
    parser.add_argument("--timeline", help="directory for one timeline PNG per file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        model = OnnxModel(args.model)
        predictor = RecordingPredictor(model, model.card, cap=args.batch_size)
        _, done, _ = predict_files(predictor, args.input, args.output, args.timeline)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
