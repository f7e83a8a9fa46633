"""Voice activity: silero-vad's ONNX model on onnxruntime, and the speech regions it finds.

The model ships inside the `silero-vad` wheel (MIT; installed with
`--no-deps`, since the package itself imports torch). Only its data file is
used: `silero_vad_16k_sequence.onnx` scores a block of 32 ms frames (512
samples, each preceded by the previous frame's last 64 samples) in one call
and hands back its LSTM state, so a recording of any length is scored block
by block with the state carried over, and nothing but one probability per
frame (112,500 floats an hour) is kept.

`speech_regions` turns the probabilities into regions with silero's own rule
(hysteresis: speech starts at p >= THRESHOLD and ends after MIN_SILENCE
seconds under THRESHOLD - 0.15; regions shorter than MIN_SPEECH dropped,
then padded by PAD on each side).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnxruntime

FRAME = 512
"""Samples (16 kHz) per VAD frame: 32 ms."""
_CONTEXT = 64
THRESHOLD = 0.5
MIN_SILENCE = 0.3
MIN_SPEECH = 0.25
PAD = 0.1


def model_path() -> Path:
    """The sequence model inside the installed silero-vad package (found without importing it: it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("silero-vad is not installed (pip install --no-deps silero-vad==6.2.3)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad_16k_sequence.onnx"


class SpeechDetector:
    """Per-frame speech probabilities of a 16 kHz signal given as consecutive blocks."""

    def __init__(self):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])

    def probabilities(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """float32 [ceil(N / FRAME)]: one probability per 32 ms frame of the concatenated blocks.

        Every block but the last must hold a multiple of FRAME samples; the last frame is zero-padded.
        """
        hidden = cell = np.zeros((1, 1, 128), np.float32)
        context = np.zeros(_CONTEXT, np.float32)
        scores = []
        for block in blocks:
            count = -(-len(block) // FRAME)
            frames = np.zeros((count, FRAME), np.float32)
            frames.reshape(-1)[: len(block)] = block
            contexts = np.concatenate([context[None], frames[:-1, -_CONTEXT:]])
            probs, hidden, cell = self._session.run(
                ["speech_probs", "hn", "cn"],
                {"input": np.concatenate([contexts, frames], axis=1), "h": hidden, "c": cell})
            context = frames[-1, -_CONTEXT:]
            scores.append(probs.reshape(-1))
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)


def speech_regions(probs: np.ndarray, num_samples: int, rate: int = 16000) -> list[tuple[int, int]]:
    """[(start, stop)] sample spans of speech, sorted, disjoint, within [0, num_samples)."""
    min_silence, min_speech, pad = (round(s * rate / FRAME) for s in (MIN_SILENCE, MIN_SPEECH, PAD))
    regions: list[list[int]] = []
    start, quiet_since = None, None
    for i, p in enumerate(np.append(probs, 0.0)):
        if start is None:
            start = i if p >= THRESHOLD else None
            continue
        if p >= THRESHOLD - 0.15 and i < len(probs):
            quiet_since = None
            continue
        quiet_since = i if quiet_since is None else quiet_since
        if i - quiet_since >= min_silence or i == len(probs):
            if quiet_since - start >= min_speech:
                regions.append([start, quiet_since])
            start, quiet_since = None, None
    spans = []
    for k, (first, last) in enumerate(regions):
        low = max(first - pad, (regions[k - 1][1] + first) // 2 if k else 0)
        high = min(last + pad, (last + regions[k + 1][0]) // 2 if k + 1 < len(regions) else last + pad)
        spans.append((low * FRAME, min(high * FRAME, num_samples)))
    return [(a, b) for a, b in spans if b > a]
