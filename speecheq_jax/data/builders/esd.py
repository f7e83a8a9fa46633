"""ESD (20 speakers, Mandarin and English): read from the user's copy (`--root` / `manual_dir`)."""

from speecheq_jax.data.builders.base import CorpusBuilder


class Esd(CorpusBuilder):
    """ESD log-mel dataset; `<spk>/<Emotion>/<spk>_<n>.wav` under `root`."""

    CORPUS = "esd"
