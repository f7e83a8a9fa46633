"""What every corpus reader shares: the parsed record, label unification, audio checks.

A reader only parses its corpus's layout into `RawUtterance`s (native codes,
where each came from) and calls `unify`, which maps labels through
`speecheq_jax.labels` (the only place that knows label maps), checks every
audio file (`audio_check.check_file`), phonemizes transcripts and counts
whatever it excludes. So the rules "errors name the file and line" and
"nothing is dropped silently" are enforced once, here, for every corpus.

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
import concurrent.futures
import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from speecheq_jax import labels
from speecheq_jax.data import audio_check, g2p
from speecheq_jax.data.errors import DataError, Exclusion, StrictExclusionError, UnusableFileError
from speecheq_jax.data.utterance import Utterance

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
      corpus: corpus name (`labels.CORPORA`).
      root: the directory (or manifest file) it was read from.
      utterances: sorted by id; ids are unique.
      excluded: reason -> number of utterances left out (by rule or as defects).
      mapping: native code -> unified category or DROP/MASK (labels.describe_mapping).
      excluded_files: each defective file or line, with its reason (sorted by file).
    """

    corpus: str
    root: str
    utterances: tuple[Utterance, ...]
    excluded: dict[str, int]
    mapping: dict[str, str]
    excluded_files: tuple[Exclusion, ...] = ()


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How to read a corpus: label choices, and what to compute or check.

    Attributes:
      labels: the run's label options.
      phonemize: run g2p on transcripts (off in tests of label parsing: speed).
      check_audio: decode every audio file and exclude unusable ones
        (audio_check.check_file: missing, empty, undecodable, silent, too short).
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
      category_code: code passed to labels.map_category; None = no category
        (masked); defaults to `native_label` when left as ''.
      intensity_code: native intensity code for labels.map_intensity.
      intensity: an intensity already on [0, 1]; wins over `intensity_code`.
      phonemes: phonemes the corpus ships (SEQD-synth); g2p is skipped then.
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


_Labelled = tuple[RawUtterance, str | None, float | None]
"""A record with its unified category and intensity."""


def unify(
    corpus: str,
    root: Path,
    raws: Iterable[RawUtterance],
    options: ReadOptions,
    excluded: Exclusions | None = None,
) -> CorpusData:
    """Maps parsed records into the unified label space and checks them.

    Args:
      corpus: corpus name (selects the label map).
      root: where the corpus was read from (recorded in CorpusData).
      raws: the reader's records.
      options: label options and what to check or compute.
      excluded: what the reader already left out (e.g. RAVDESS song files,
        names that break the scheme); a new one (options.strict) if None.
    Returns:
      CorpusData with utterances sorted by id; an unknown label code or an
      unusable audio file is excluded and named (StrictExclusionError in
      strict mode).
    Raises:
      ValueError naming both sources for a duplicate id.
    """
    excluded = excluded if excluded is not None else Exclusions(options.strict)
    labelled: list[_Labelled] = []
    for raw in raws:
        decision = excluded.attempt(_labels, corpus, raw, options.labels)
        if decision is None:
            continue
        category, action, reason, intensity = decision
        if action == "drop":
            excluded.count(f"category dropped: {reason}")
            continue
        labelled.append((raw, category, intensity))
    if options.check_audio:
        labelled = _usable_audio(corpus, labelled, excluded)
    kept: dict[str, _Labelled] = {}
    for raw, category, intensity in labelled:
        if raw.id in kept:
            raise ValueError(f"{raw.source}: duplicate utterance id {raw.id!r} (also {kept[raw.id][0].source})")
        kept[raw.id] = (raw, category, intensity)
    phonemes = _phonemes([raw for raw, _, _ in kept.values()], options.phonemize)
    utterances = tuple(
        Utterance(
            id=raw.id, audio_path=str(raw.audio_path), corpus=corpus, speaker=raw.speaker,
            gender=raw.gender, lang=raw.lang, text=raw.text, phonemes=phonemes[raw.id],
            category=category, intensity=intensity, native_label=raw.native_label, group=raw.group,
        )
        for raw, category, intensity in (kept[key] for key in sorted(kept))
    )
    return CorpusData(
        corpus=corpus, root=str(root), utterances=utterances, excluded=dict(excluded.counts),
        mapping=labels.describe_mapping(corpus, options.labels),
        excluded_files=tuple(sorted(excluded.files, key=lambda e: (e.file, e.reason))),
    )


def _labels(corpus: str, raw: RawUtterance,
            options: labels.LabelOptions) -> tuple[str | None, str, str, float | None]:
    """(unified category or None, 'keep'|'mask'|'drop', reason, intensity) of one record.

    Raises UnusableFileError naming the record for a code the corpus does not
    have (UNKNOWN_CODE) or an intensity outside [0, 1] (BAD_LINE).
    """
    code = raw.native_label if raw.category_code == "" else raw.category_code
    try:
        decision = None if code is None else labels.map_category(corpus, code, options)
        if decision is not None and decision.action == "drop":
            return None, "drop", decision.reason, None
        category = None if decision is None else decision.category
        intensity = None if raw.intensity is not None else labels.map_intensity(corpus, category, raw.intensity_code)
    except ValueError as e:
        raise UnusableFileError(raw.source, UNKNOWN_CODE, str(e)) from e
    if raw.intensity is not None:
        if not 0.0 <= raw.intensity <= 1.0:
            raise UnusableFileError(raw.source, BAD_LINE, f"intensity {raw.intensity} is outside [0, 1]")
        intensity = float(raw.intensity)
    return category, "keep" if decision is None else decision.action, "", intensity


def _usable_audio(corpus: str, labelled: list[_Labelled], excluded: Exclusions) -> list[_Labelled]:
    """The records whose audio passes audio_check.check_file; the rest excluded, in input order.

    Files are decoded in threads (libsndfile releases the GIL); results are
    taken in input order, so exclusions and strict-mode errors are deterministic.
    """
    def problem(item: _Labelled) -> Exclusion | None:
        try:
            audio_check.check_file(item[0].audio_path)
        except UnusableFileError as e:
            return e.exclusion
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        problems = list(tqdm(pool.map(problem, labelled), total=len(labelled), desc=f"{corpus}: audio check",
                             unit="file", disable=None))
    usable = []
    for item, found in zip(labelled, problems):
        if found is None:
            usable.append(item)
        else:
            excluded.add(found)
    return usable


def _phonemes(raws: list[RawUtterance], phonemize: bool) -> dict[str, tuple[str, ...] | None]:
    """Phonemes per id: shipped ones, else g2p of the transcript (threads: espeak-ng is a process)."""
    out: dict[str, tuple[str, ...] | None] = {raw.id: raw.phonemes for raw in raws}
    if not phonemize:
        return out
    todo = [raw for raw in raws if raw.phonemes is None and raw.g2p_text and raw.lang in g2p.VOICES]
    jobs = sorted({(raw.g2p_text, raw.lang) for raw in todo})
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(tqdm(
            pool.map(lambda job: g2p.phonemize(*job), jobs), total=len(jobs),
            desc="g2p (espeak-ng)", unit="text", disable=None,
        ))
    by_text = dict(zip(jobs, results))
    for raw in todo:
        out[raw.id] = by_text[(raw.g2p_text, raw.lang)] or None
    return out
