"""SEQD-synth: generated on first preparation (espeak-ng + sox), deterministic from its config."""

from pathlib import Path

import tensorflow_datasets as tfds

from speecheq_jax.data import synth
from speecheq_jax.data.builders.base import CorpusBuilder

DEFAULT_SYNTH = {"num": 1000, "seed": 0, "langs": ["cmn", "eng"]}


class SeqdSynth(CorpusBuilder):
    """SEQD-synth log-mel dataset; the config's `synth` dict sets num, seed and langs."""

    CORPUS = "seqd_synth"

    def raw_root(self, dl_manager: tfds.download.DownloadManager) -> Path:
        """Generates the corpus (idempotent) into `root`, else under the download dir."""
        params = self.builder_config.params
        root = params["root"] or Path(dl_manager.download_dir) / "seqd_synth" / self.builder_config.name
        options = {**DEFAULT_SYNTH, **(params["synth"] or {})}
        synth.generate(root, options["num"], seed=options["seed"], langs=tuple(options["langs"]))
        return Path(root)
