"""Long test recordings: SEQD-synth utterances (16 kHz WAVs) in order, cycled, with silences between.

The silences are 0.5 to 2 s of low noise (-60 dBFS), like a quiet room, so
the voice-activity detector has real gaps to find; the truth is returned.
Written piece by piece, so an hour-long file never sits in memory (the
benchmark writes 60-minute files with it too).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile

RATE = 16000


def write_recording(path: Path, utterances: Sequence[Path], seconds: float, seed: int = 0,
                    ) -> list[tuple[float, float]]:
    """Writes about `seconds` of gap, utterance, gap, ... (ending on a gap); returns the utterances' (start, end) s."""
    rng = np.random.default_rng(seed)
    truth, position = [], 0
    with soundfile.SoundFile(path, "w", RATE, 1, "PCM_16") as out:
        for wav in itertools.cycle(utterances):
            gap = (1e-3 * rng.standard_normal(int(rng.uniform(0.5, 2.0) * RATE))).astype(np.float32)
            out.write(gap)
            position += len(gap)
            if position / RATE >= seconds:
                return truth
            speech, rate = soundfile.read(wav, dtype="float32")
            assert rate == RATE, f"{wav}: {rate} Hz"
            out.write(speech)
            truth.append((position / RATE, (position + len(speech)) / RATE))
            position += len(speech)
