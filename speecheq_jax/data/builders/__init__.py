"""The TFDS builder: `builder_class(spec)` makes each corpus's from its `CorpusSpec`."""

from speecheq_jax.data.builders.base import CorpusBuilder, CorpusConfig, builder_class

__all__ = ["CorpusBuilder", "CorpusConfig", "builder_class"]
