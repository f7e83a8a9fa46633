"""What every corpus reader shares: the parsed record, the read result, exclusions, layout helpers.

A reader only parses its corpus's layout into `RawUtterance`s (native codes,
where each came from) and calls `unify.unify`, which maps labels through its
spec's `labels.CorpusLabels`, checks every audio file
(`audio_file.check_file`), phonemizes transcripts and counts whatever it
excludes. So the rules "errors name the file and line" and "nothing is
dropped silently" are enforced once for every corpus.

Two kinds of exclusion, both kept in `Exclusions`:
* by rule (a category the label options drop, RAVDESS song, macOS '._'
  files): counted by reason;
* defects (a file name or label line that breaks the corpus's scheme, a
  label code the corpus does not have, audio that is missing, empty,
  undecodable, silent or too short): counted AND named with the reason. A
  reader raises `UnusableFileError` where it parses; `Exclusions.attempt`
  records it. In strict mode the first defect is a `StrictExclusionError`.
The corpus's folds are then made from what is usable: a speaker whose every
file was excluded is simply not in the corpus.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from speecheq_jax import labels
from speecheq_jax.errors import DataError, Exclusion, StrictExclusionError, UnusableFileError
from speecheq_jax.utterance import Utterance

if TYPE_CHECKING:  # spec.py imports this module
    from speecheq_jax.corpora.corpus_spec import CorpusSpec

_T = TypeVar("_T")

TEXT_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030")
"""Encodings tried in order for label and transcript files (ESD's Mandarin files vary)."""


BAD_NAME = "file name breaks the naming scheme"
BAD_LINE = "label line breaks the scheme"
NO_LINE = "no label or transcript line"
UNKNOWN_CODE = "unknown label code"


class CorpusLayoutError(DataError):
    """The root is missing, empty, or not laid out the way the corpus is distributed."""


class Exclusions:
    """What one corpus read leaves out: counts by reason, and each defective file by name.

    Attributes:
      strict: raise StrictExclusionError on the first defect instead of excluding it.
      counts: reason -> number of utterances left out (rules and defects).
      files: the defects, in the order the reader met them (deterministic).
    """

    def __init__(self, strict: bool = False):
        self.strict = strict
        self.counts: collections.Counter = collections.Counter()
        self.files: list[Exclusion] = []

    def count(self, reason: str, n: int = 1) -> None:
        """Counts `n` utterances left out by design (no file is named)."""
        if n:
            self.counts[reason] += n

    def add(self, exclusion: Exclusion) -> None:
        """Records one defect; strict mode raises it instead."""
        if self.strict:
            raise StrictExclusionError(exclusion)
        self.counts[exclusion.reason] += 1
        self.files.append(exclusion)

    def attempt(self, parse: Callable[..., _T], *args) -> _T | None:
        """parse(*args), or None with the defect recorded when it raises UnusableFileError."""
        try:
            return parse(*args)
        except UnusableFileError as e:
            self.add(e.exclusion)
            return None


@dataclasses.dataclass(frozen=True)
class CorpusData:
    """One corpus read from disk, labels unified.

    Attributes:
      spec: the corpus's spec (its name, label map, protocols).
      root: the directory (or manifest file) it was read from.
      utterances: sorted by id; ids are unique.
      excluded: reason -> number of utterances left out (by rule or as defects).
      mapping: native code -> unified category or DROP/MASK (`CorpusLabels.describe`).
      excluded_files: each defective file or line, with its reason (sorted by file).
    """

    spec: CorpusSpec
    root: str
    utterances: tuple[Utterance, ...]
    excluded: dict[str, int]
    mapping: dict[str, str]
    excluded_files: tuple[Exclusion, ...] = ()

    @property
    def corpus(self) -> str:
        """The corpus name (`spec.name`)."""
        return self.spec.name


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How to read a corpus: label choices, and what to compute or check.

    Attributes:
      labels: the run's label options.
      phonemize: run g2p on transcripts (off in tests of label parsing: speed).
      check_audio: decode every audio file and exclude unusable ones
        (audio_file.check_file: missing, empty, undecodable, silent, too short).
      strict: any defect (a file that would be excluded) is an error instead.
    """

    labels: labels.LabelOptions = labels.LabelOptions()
    phonemize: bool = True
    check_audio: bool = True
    strict: bool = False


@dataclasses.dataclass(frozen=True)
class RawUtterance:
    """One utterance as a reader parsed it, before labels are unified.

    Attributes:
      source: 'file:line' or the audio path; every error about it names this.
      native_label: the corpus's own label, kept verbatim.
      category_code: code passed to CorpusLabels.map_category; None = no category
        (masked); defaults to `native_label` when left as ''.
      intensity_code: native intensity code for CorpusLabels.map_intensity.
      intensity: an intensity already on [0, 1]; wins over `intensity_code`.
      phonemes: phonemes the corpus ships (SEQD-synth); g2p is skipped then.
      extra_labels: labels of heads beyond the built-in four (`Utterance.extra_labels`), passed through.
      spoken_text: what g2p reads when it differs from the verbatim `text`
        (e.g. IEMOCAP's [LAUGHTER] tags removed).
    """

    id: str
    audio_path: Path
    speaker: str
    gender: str | None
    lang: str
    text: str | None
    native_label: str
    group: str
    source: str
    category_code: str | None = ""
    intensity_code: str | None = None
    intensity: float | None = None
    phonemes: tuple[str, ...] | None = None
    spoken_text: str | None = None
    extra_labels: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def g2p_text(self) -> str | None:
        """The text g2p reads: `spoken_text` when given, else the transcript."""
        return self.spoken_text if self.spoken_text is not None else self.text


def require_root(root: Path, corpus: str, layout: str) -> Path:
    """The root as a directory, or a CorpusLayoutError describing the expected layout."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusLayoutError(f"{corpus} root {root} is not a directory; expected {layout}")
    return root


def no_utterances_error(root: Path, corpus: str, layout: str) -> CorpusLayoutError:
    """The error for a root that exists but holds none of the corpus's audio."""
    return CorpusLayoutError(f"{root}: found no {corpus} audio; expected {layout}")


def wav_files(directory: Path, excluded: Exclusions) -> list[Path]:
    """Sorted *.wav files of one folder, counting macOS '._*' metadata files as excluded.

    Archives unpacked on macOS carry '._name.wav' companions that are not audio.
    """
    found = []
    for path in sorted(directory.glob("*.wav")):
        if path.name.startswith("._"):
            excluded.count("macOS metadata file (._*), not audio")
        else:
            found.append(path)
    return found


def read_text_lines(path: Path) -> list[str]:
    """Lines of a label or transcript file, trying `TEXT_ENCODINGS` in order."""
    data = Path(path).read_bytes()
    for encoding in TEXT_ENCODINGS:
        try:
            return data.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: cannot decode as any of {TEXT_ENCODINGS}")
