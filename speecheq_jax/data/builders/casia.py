"""CASIA (public 1,200-utterance subset): read from the user's copy (`--root` / `manual_dir`)."""

from speecheq_jax.data.builders.base import CorpusBuilder


class Casia(CorpusBuilder):
    """CASIA log-mel dataset; `<speaker>/<emotion>/<n>.wav` under `root`."""

    CORPUS = "casia"
