"""Corpus readers: one module per corpus layout, each ending with its `CorpusSpec`.

`read_corpus(name, root)` is the one entry point; `registry` lists the
corpora, `protocols.make_folds` turns a read corpus into its evaluation protocol,
`summary` reports both. Files a reader cannot use are excluded and named
(`CorpusData.excluded_files`), or with strict=True stop the read
(`StrictExclusionError`).
"""

from __future__ import annotations

from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import registry
from speecheq_jax.corpora.corpus_data import CorpusData, CorpusLayoutError, ReadOptions
from speecheq_jax.errors import StrictExclusionError

__all__ = ["CorpusData", "CorpusLayoutError", "ReadOptions", "StrictExclusionError", "read_corpus"]


def read_corpus(
    name: str,
    root: str | Path,
    options: labels.LabelOptions = labels.LabelOptions(),
    *,
    phonemize: bool = True,
    check_audio: bool = True,
    strict: bool = False,
) -> CorpusData:
    """Reads corpus `name` from `root` with unified labels.

    Args:
      name: a registered corpus (`registry.names()`).
      root: the corpus folder (for 'manifest': the manifest file or its folder).
      options: the run's label options (the corpus's own filled in with its defaults and checked).
      phonemize: run g2p on transcripts (slow on large corpora; off for summaries).
      check_audio: decode every audio file and exclude unusable ones (features.audio_file).
      strict: a file that would be excluded is an error instead.
    """
    spec = registry.get(name)
    options = ReadOptions(labels=spec.resolve_label_options(options), phonemize=phonemize, check_audio=check_audio,
                          strict=strict)
    return spec.read(Path(root), options)
