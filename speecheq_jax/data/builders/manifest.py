"""Any corpus described by a JSONL manifest of Utterance records (`--root` = its directory)."""

from speecheq_jax.data.builders.base import CorpusBuilder


class Manifest(CorpusBuilder):
    """Generic log-mel dataset; audio paths in the manifest are relative to it."""

    CORPUS = "manifest"
