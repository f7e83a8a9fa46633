"""Recordings of any length predicted in bounded memory, by any runtime (JAX or onnxruntime).

Per file, one pass over the audio in blocks feeds the voice-activity detector
and the level meter (`vad.py`, `levels.py`); speech regions are cut into
windows the model was trained on (`windows.py`). Windows from consecutive
files are gathered into groups of at most `group` windows; a group's windows
are read back from the file (`audio_source.py`), turned into the model's input
(`model_inputs.py`: log-mels, or the samples themselves for a model with its SSL
encoder inside) and run in batches packed by length (at most `cap` rows). Only
one group of inputs is ever in memory, so peak memory is bounded whatever the recording's length
(the per-window fields and one VAD probability per 32 ms are all that grows).

The record of a file (`record.py`): its segments with every head's fields,
the whole-file summary and its flags; a file that cannot be read or is
shorter than the card's `min_seconds` gets `{"path", "error"}`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from speecheq_jax.errors import UnusableFileError
from speecheq_jax.eval import prediction_io
from speecheq_jax.features import logmel
from speecheq_jax.serving import record as record_lib
from speecheq_jax.serving import vad, windows
from speecheq_jax.serving.audio_source import AudioSource
from speecheq_jax.serving.levels import SILENCE, Levels
from speecheq_jax.serving.model_inputs import model_inputs

log = logging.getLogger(__name__)

BLOCK_SAMPLES = vad.FRAME * 960
"""Samples per block of the first pass (30.72 s): a multiple of the VAD frame."""


_BAR = "{desc}: {percentage:3.0f}% {n:.0f}/{total:.0f} s of speech [{elapsed}<{remaining}]"


def _seconds(spans: Iterable[tuple[int, int]]) -> float:
    return sum(b - a for a, b in spans) / logmel.SAMPLE_RATE


class Model(Protocol):
    """What a runtime offers the predictor: the padded lengths it runs, and the forward pass."""

    lengths: tuple[int, ...]
    """Padded input lengths the runtime accepts (log-mel frames; samples on the SSL route)."""

    def rows(self, count: int) -> int:
        """Batch rows to run `count` windows in (>= count: a runtime may want fixed batch sizes)."""

    def run(self, inputs: np.ndarray, mask: np.ndarray) -> Mapping[str, np.ndarray]:
        """Eval outputs (category_prob [B, C], intensity [B], ...) for logmel [B, T, 80], frame_mask [B, T]
        (SSL route: waveform [B, N], sample_mask [B, N])."""


@dataclasses.dataclass
class _File:
    """A file between its first pass and its record: its windows and the fields found so far."""

    path: str
    source: AudioSource | None
    spans: list[tuple[int, int]]
    flags: list[str]
    fields: list[dict[str, Any] | None]
    error: str | None = None

    @property
    def done(self) -> bool:
        return all(f is not None for f in self.fields)


class RecordingPredictor:
    """Records for audio files of any length, with `model` as the runtime.

    Args:
      model: the runtime (`jobs.predict_files.JaxModel`, `serving.onnx_model.OnnxModel`).
      card: the model card (categories, CMVN, buckets, min_seconds).
      cap: most windows per batch.
      group: most windows whose log-mels are held at once.
      progress: show a bar of the audio seconds done (the CLIs; not the web service).
    """

    def __init__(self, model: Model, card: Mapping[str, Any], *, cap: int = 8, group: int = 64,
                 progress: bool = False):
        self.model, self.card, self.cap, self.group = model, card, cap, max(group, cap)
        self.progress = progress
        self.inputs = model_inputs(card)
        self.max_samples = self.inputs.max_samples(min(self.inputs.longest, max(model.lengths)))
        self.min_seconds = float(card["features"]["min_seconds"])
        self.detector = vad.SpeechDetector()

    def _open(self, path: str) -> _File:
        """The first pass over one file: levels, voice activity, windows; or its one-line error."""
        try:
            source = AudioSource(path)
            if source.seconds < self.min_seconds:
                raise UnusableFileError(path, "audio too short",
                                        f"{source.seconds:.3f} s; at least {self.min_seconds} s needed")
            levels = Levels()
            probs = self.detector.probabilities(levels.add(b) for b in source.blocks(BLOCK_SAMPLES))
        except UnusableFileError as e:
            return _File(path, None, [], [], [], error=str(e))
        regions = vad.speech_regions(probs, source.num_samples)
        flags = levels.flags(bool(regions))
        for flag in flags:
            log.warning("%s: %s", path, levels.warning(flag))
        spans = [] if SILENCE in flags else windows.cut(regions, self.max_samples,
                                                         round(self.min_seconds * logmel.SAMPLE_RATE))
        return _File(path, source, spans, flags, [None] * len(spans))

    def _run(self, pending: list[tuple[_File, int]]) -> None:
        """Fills the fields of the pending windows: inputs read back, batches packed by length."""
        items = [self.inputs.features(file.source.read(*file.spans[k])) for file, k in pending]
        for length, members in windows.pack([len(m) for m in items], self.model.lengths, self.cap):
            inputs, mask = self.inputs.pad([items[i] for i in members], self.model.rows(len(members)), length)
            outputs = self.model.run(inputs, mask)
            for i, fields in zip(members, prediction_io.prediction_records([""] * len(members), outputs, self.card)):
                file, k = pending[i]
                fields.pop("path")
                file.fields[k] = fields

    def _record(self, file: _File) -> dict[str, Any]:
        if file.error is not None:
            return {"path": file.path, "error": file.error}
        return record_lib.file_record(file.path, file.source.seconds, file.spans, file.fields, file.flags)

    def predict(self, paths: Iterable[str | Path]) -> Iterator[dict[str, Any]]:
        """One record per path, in order, each yielded as soon as its file's windows are all predicted."""
        waiting: collections.deque[_File] = collections.deque()
        pending: list[tuple[_File, int]] = []
        with tqdm(desc="predict", unit="s", total=0, disable=not self.progress, bar_format=_BAR) as bar:
            for path in map(str, paths):
                file = self._open(path)
                waiting.append(file)
                bar.total += _seconds(file.spans)
                for k in range(len(file.spans)):
                    pending.append((file, k))
                    if len(pending) == self.group:
                        self._run(pending)
                        bar.update(_seconds([f.spans[i] for f, i in pending]))
                        pending = []
                while waiting and waiting[0].done:
                    yield self._record(waiting.popleft())
            self._run(pending)
            bar.update(_seconds([f.spans[i] for f, i in pending]))
            while waiting:
                yield self._record(waiting.popleft())
