"""RAVDESS (24 actors, speech): read from the user's copy (`--root` / `manual_dir`)."""

from speecheq_jax.data.builders.base import CorpusBuilder


class Ravdess(CorpusBuilder):
    """RAVDESS log-mel dataset; `Actor_NN/*.wav` under `root` (48 kHz, resampled)."""

    CORPUS = "ravdess"
