"""Corpus readers: one per corpus layout, all yielding unified `Utterance`s.

`read_corpus(name, root)` is the one entry point; `folds.make_folds` turns its
result into the corpus's evaluation protocol, `summary` reports both. Files a
reader cannot use are excluded and named (`CorpusData.excluded_files`), or with
strict=True stop the read (`StrictExclusionError`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.data.corpora import casia, cremad, esd, iemocap, manifest, ravdess, seqd_synth
from speecheq_jax.data.corpora.base import CorpusData, CorpusLayoutError, ReadOptions
from speecheq_jax.data.errors import StrictExclusionError
from speecheq_jax.data.corpora.speaker_info import apply_speaker_info

READERS: dict[str, Callable[[Path, ReadOptions], CorpusData]] = {
    "iemocap": iemocap.read,
    "casia": casia.read,
    "esd": esd.read,
    "ravdess": ravdess.read,
    "cremad": cremad.read,
    "manifest": manifest.read,
    "seqd_synth": seqd_synth.read,
}

__all__ = ["READERS", "CorpusData", "CorpusLayoutError", "ReadOptions", "StrictExclusionError", "read_corpus"]


def read_corpus(
    name: str,
    root: str | Path,
    options: labels.LabelOptions = labels.LabelOptions(),
    *,
    phonemize: bool = True,
    check_audio: bool = True,
    strict: bool = False,
    speaker_info: str | Path | None = None,
) -> CorpusData:
    """Reads corpus `name` from `root` with unified labels.

    Args:
      name: one of labels.CORPORA.
      root: the corpus folder (for 'manifest': the manifest file or its folder).
      options: the run's label options.
      phonemize: run g2p on transcripts (slow on large corpora; off for summaries).
      check_audio: decode every audio file and exclude unusable ones (audio_check).
      strict: a file that would be excluded is an error instead.
      speaker_info: optional speaker,gender CSV filling genders the corpus lacks.
    """
    if name not in READERS:
        raise ValueError(f"unknown corpus {name!r}; known: {sorted(READERS)}")
    data = READERS[name](Path(root), ReadOptions(labels=options, phonemize=phonemize, check_audio=check_audio,
                                                 strict=strict))
    return apply_speaker_info(data, speaker_info) if speaker_info is not None else data
