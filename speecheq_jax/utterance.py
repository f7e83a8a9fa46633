"""The Utterance record every corpus reader yields (see docs/ARCHITECTURE.md, "Contracts").

Readers turn a corpus on disk into Utterances whose labels are already in the
unified label space (`speecheq_jax.labels`); everything downstream (TFDS
builders, summaries, folds) sees only this record.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One utterance of one corpus, labels unified.

    Attributes:
      id: unique within the corpus (e.g. 'Ses01F_impro01_F000').
      audio_path: path of the WAV file.
      corpus: corpus name (see `corpora.registry.names()`).
      speaker: speaker id, unique within the corpus (e.g. 'Ses01F' for the
        female actor of IEMOCAP session 1).
      gender: 'F', 'M' or None when unknown.
      lang: ISO 639-3 language code ('eng', 'cmn').
      text: transcript, or None.
      phonemes: phoneme tokens (shared inventory, see `features.g2p`), or None.
      category: unified category name, or None (masked).
      intensity: intensity on [0, 1], or None (masked).
      native_label: the corpus's own label, kept verbatim for reports.
      group: the fold / session key the corpus's protocol splits on.
      extra_labels: labels of heads beyond the four built-in ones, by the name the head's
        `LabelPath` reads (`heads.contract.extra_label`); not compared nor hashed.
    """

    id: str
    audio_path: str
    corpus: str
    speaker: str
    gender: str | None
    lang: str
    text: str | None
    phonemes: tuple[str, ...] | None
    category: str | None
    intensity: float | None
    native_label: str
    group: str
    extra_labels: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def to_json(self) -> str:
        """One JSON object; `extra_labels` only when there are any (so a manifest without them keeps its columns)."""
        values = dataclasses.asdict(self)
        if not values["extra_labels"]:
            del values["extra_labels"]
        return json.dumps(values, ensure_ascii=False)

    @classmethod
    def from_dict(cls, values: dict) -> Utterance:
        known = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(known - set(values) - {"extra_labels"})
        if missing:
            raise ValueError(f"utterance record lacks field(s) {missing}")
        values = {k: values[k] for k in known if k in values}
        if values["phonemes"] is not None:
            values["phonemes"] = tuple(values["phonemes"])
        return cls(**values)


def write_jsonl(utterances: Iterable[Utterance], path: str | Path) -> None:
    """Writes one JSON object per line (UTF-8), the manifest format."""
    with open(path, "w", encoding="utf-8") as f:
        for utt in utterances:
            f.write(utt.to_json() + "\n")


def read_jsonl(path: str | Path) -> Iterator[Utterance]:
    """Reads a manifest written by `write_jsonl`; errors name the file and line."""
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Utterance.from_dict(json.loads(line))
            except (ValueError, TypeError) as e:
                raise ValueError(f"{path}:{line_no}: {e}") from e
