"""The frame contract shared by audio checks, features, batches, heads and the model (no imports).

Audio becomes NUM_MELS log-mel bins every 10 ms (`features.logmel`); the
conformer's front end reduces time by SUBSAMPLING (two stride-2
convolutions, padding 1: T -> ceil(T / 2) twice), so a batch's phoneme targets
and CTC alignability are sized by it (`input.batch`, `input.buckets`,
`heads.phoneme`) and the model must reduce by exactly this (`model.frontend`).
Data and model both import it from here, so neither imports the other.

Shortest usable audio: MIN_ENCODER_FRAMES = 5 encoder frames (200 ms of
context) need 4 * (5 - 1) + 1 = 17 log-mel frames = 1 + n // 160 with
n = 2560 samples at 16 kHz, i.e. MIN_SECONDS = 0.16 s. Shorter clips carry
too little to classify and make CTC's length constraint unsatisfiable for any
real transcript.
"""

NUM_MELS = 80
"""Log-mel bins per frame: the model's input feature size."""
SUBSAMPLING = 4
"""Log-mel frames per encoder frame."""
MIN_ENCODER_FRAMES = 5
MIN_SECONDS = SUBSAMPLING * (MIN_ENCODER_FRAMES - 1) * 0.01
"""0.16 s: the shortest audio that gives MIN_ENCODER_FRAMES encoder frames (10 ms log-mel hop)."""


def encoder_frames(num_frames):
    """Encoder (CTC output) frames of utterances of `num_frames` log-mel frames: ceil(n / SUBSAMPLING).

    Works on an int, a numpy array or a jax array alike (the pipeline, the loss and the heads share it).
    """
    return -(-num_frames // SUBSAMPLING)
