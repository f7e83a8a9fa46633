"""IEMOCAP (5 sessions, 10 actors): read from the user's copy (`--root` / `manual_dir`)."""

from speecheq_jax.data.builders.base import CorpusBuilder


class Iemocap(CorpusBuilder):
    """IEMOCAP log-mel dataset; the session directories lie under `root`."""

    CORPUS = "iemocap"
