"""Signal levels of a recording, gathered block by block, and the flags they raise.

A recording that is silent, holds no speech, or is clipped must not be
classified as if it were a clean utterance: the model answers something for
any input (one second of digital silence gets `fear` p=0.87). The flags go
into the output record and each gets ONE warning line.

* `silence`: peak under SILENCE_PEAK (-60 dBFS): nothing to classify;
* `no_speech`: audible, but the voice-activity detector found no speech;
* `clipped`: more than CLIPPED_FRACTION of the samples at full scale; the
  file is still classified (the flag says its numbers are less trustworthy).
"""

from __future__ import annotations

import dataclasses

import numpy as np

SILENCE_PEAK = 1e-3
FULL_SCALE = 0.999
CLIPPED_FRACTION = 1e-3
SILENCE, NO_SPEECH, CLIPPED = "silence", "no_speech", "clipped"
WARNINGS = {
    SILENCE: "silence (peak under -60 dBFS): not classified",
    NO_SPEECH: "no speech found by the voice-activity detector: not classified",
    CLIPPED: "clipped audio ({clipped:.2%} of samples at full scale): predictions less reliable",
}


@dataclasses.dataclass
class Levels:
    """Running peak and clipped-sample count of a signal seen block by block."""

    samples: int = 0
    peak: float = 0.0
    clipped: int = 0

    def add(self, block: np.ndarray) -> np.ndarray:
        """Counts one float32 [N] block; returns it, so the pass over the file can go on with it."""
        magnitude = np.abs(block)
        self.samples += len(block)
        self.peak = max(self.peak, float(magnitude.max(initial=0.0)))
        self.clipped += int(np.count_nonzero(magnitude >= FULL_SCALE))
        return block

    def flags(self, has_speech: bool) -> list[str]:
        """The flags of the whole signal, given whether any speech was found."""
        if self.peak < SILENCE_PEAK:
            return [SILENCE]
        found = [] if has_speech else [NO_SPEECH]
        return found + ([CLIPPED] if self.clipped > CLIPPED_FRACTION * max(self.samples, 1) else [])

    def warning(self, flag: str) -> str:
        """The one warning line of `flag` (without the file name)."""
        return WARNINGS[flag].format(clipped=self.clipped / max(self.samples, 1))
