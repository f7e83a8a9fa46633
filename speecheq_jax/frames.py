"""The frame contract shared by audio checks, features, batches, heads and the model (no project imports).

Audio becomes NUM_MELS log-mel bins every 10 ms (`features.logmel`); the
conformer's front end reduces time by SUBSAMPLING (two stride-2
convolutions, padding 1: T -> ceil(T / 2) twice), so a batch's phoneme targets
and CTC alignability are sized by it (`input.batch`, `input.buckets`,
`heads.phoneme`) and the model must reduce by exactly this (`model.frontend`).
Data and model both import it from here, so neither imports the other.

Three routes (`ROUTES`) bring features to the conformer: log-mel (the default, above), the stored
hidden states of a self-supervised speech encoder (`SSL_ROUTE`: K kept layers of D dims every
20 ms, one stride-2 front end to the same 40 ms encoder frame) and, to fine-tune that encoder, the
16 kHz waveform itself (`WAVEFORM_ROUTE`: a "frame" is one sample; the encoder inside the model).
A route names its Batch key and its subsampling; `FeatureLayout` adds the per-frame feature shape. A Batch
says its route by its key (`route_of`), so the CTC length rules (`Route.encoder_frames`) follow the batch they
are applied to, and so does the label check when an example is read (`RunTables.route`).

Shortest usable audio: MIN_ENCODER_FRAMES = 5 encoder frames (200 ms of
context) need 4 * (5 - 1) + 1 = 17 log-mel frames = 1 + n // 160 with
n = 2560 samples at 16 kHz, i.e. MIN_SECONDS = 0.16 s. Shorter clips carry
too little to classify and make CTC's length constraint unsatisfiable for any
real transcript.
"""

import dataclasses
from collections.abc import Iterable

NUM_MELS = 80
"""Log-mel bins per frame: the model's input feature size."""
SUBSAMPLING = 4
"""Log-mel frames per encoder frame."""
MIN_ENCODER_FRAMES = 5
MIN_SECONDS = SUBSAMPLING * (MIN_ENCODER_FRAMES - 1) * 0.01
"""0.16 s: the shortest audio that gives MIN_ENCODER_FRAMES encoder frames (10 ms log-mel hop)."""


def encoder_frames(num_frames, subsampling: int = SUBSAMPLING):
    """Encoder (CTC output) frames of utterances of `num_frames` input frames: ceil(n / subsampling).

    Works on an int, a numpy array or a jax array alike (the pipeline, the loss and the heads share it).
    `subsampling` is the route's (`Route.subsampling`; log-mel's by default).
    """
    return -(-num_frames // subsampling)


@dataclasses.dataclass(frozen=True)
class Route:
    """A feature route: its Batch key, its input frames per encoder frame and its input frame hop.

    `lead`: input frames the first encoder frame needs beyond `subsampling` (0 but on the waveform route, whose
    convolutions need 400 samples for their first frame).
    """

    name: str
    key: str
    subsampling: int
    frame_seconds: float
    lead: int = 0

    def encoder_frames(self, num_frames):
        """Encoder frames of `num_frames` input frames on this route (`encoder_frames`; with a lead, the lower
        bound ceil((n - lead) / subsampling))."""
        return encoder_frames(num_frames - self.lead, self.subsampling)


LOGMEL_ROUTE = Route("logmel", "logmel", SUBSAMPLING, 0.01)
SSL_ROUTE = Route("ssl", "ssl_states", 2, 0.02)
"""Hidden states at 50 Hz; the SSL front end's one stride-2 step brings them to the log-mel route's 25 Hz."""
SAMPLES_PER_STATE = 320
"""16 kHz samples per 20 ms hidden state of the standard wav2vec 2.0 / HuBERT / WavLM conv stack."""
WAVEFORM_ROUTE = Route("waveform", "waveform", 2 * SAMPLES_PER_STATE, 1 / 16000, lead=400)
"""16 kHz samples; the standard conv stack (400-sample receptive field, stride 320) then the SSL front end's
stride 2. CTC's length rule here is a lower bound of the encoder frames (ceil((n - 400) / 640) <= ceil(T / 2)
with T = (n - 400) // 320 + 1), so a target the pipeline keeps always aligns."""
ROUTES = {route.name: route for route in (LOGMEL_ROUTE, SSL_ROUTE, WAVEFORM_ROUTE)}


@dataclasses.dataclass(frozen=True)
class FeatureLayout:
    """A route and its per-frame feature shape: (NUM_MELS,) for log-mel, (K, D) for K kept SSL layers of D dims."""

    route: Route
    shape: tuple[int, ...]


LOGMEL = FeatureLayout(LOGMEL_ROUTE, (NUM_MELS,))


def route_of(keys: Iterable[str]) -> Route:
    """The route of a Batch (or any mapping) from its feature key; ValueError when it has none."""
    keys = set(keys)
    for route in ROUTES.values():
        if route.key in keys:
            return route
    raise ValueError(f"a batch with none of the feature keys {[r.key for r in ROUTES.values()]}")
