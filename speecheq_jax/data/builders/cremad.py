"""CREMA-D (91 actors): read from the user's copy (`--root` / `manual_dir`)."""

from speecheq_jax.data.builders.base import CorpusBuilder


class Cremad(CorpusBuilder):
    """CREMA-D log-mel dataset; `AudioWAV/` and `VideoDemographics.csv` under `root`."""

    CORPUS = "cremad"
