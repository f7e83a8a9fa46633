"""What every corpus reader shares: the parsed record, label unification, audio checks.

A reader only parses its corpus's layout into `RawUtterance`s (native codes,
where each came from) and calls `unify`, which maps labels through
`speecheq_jax.labels` (the only place that knows label maps), checks every
audio file, phonemizes transcripts and counts whatever it excludes. So the
rules "errors name the file and line" and "nothing is dropped silently" are
enforced once, here, for every corpus.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import soundfile
from tqdm import tqdm

from speecheq_jax import labels
from speecheq_jax.data import g2p
from speecheq_jax.data.utterance import Utterance

TEXT_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030")
"""Encodings tried in order for label and transcript files (ESD's Mandarin files vary)."""


class CorpusLayoutError(ValueError):
    """The root is missing, empty, or not laid out the way the corpus is distributed."""


@dataclasses.dataclass(frozen=True)
class CorpusData:
    """One corpus read from disk, labels unified.

    Attributes:
      corpus: corpus name (`labels.CORPORA`).
      root: the directory (or manifest file) it was read from.
      utterances: sorted by id; ids are unique.
      excluded: reason -> number of utterances a rule left out.
      mapping: native code -> unified category or DROP/MASK (labels.describe_mapping).
    """

    corpus: str
    root: str
    utterances: tuple[Utterance, ...]
    excluded: dict[str, int]
    mapping: dict[str, str]


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How to read a corpus: label choices, and what to compute or check.

    Attributes:
      labels: the run's label options.
      phonemize: run g2p on transcripts (off in tests of label parsing: speed).
      check_audio: open every audio header (existence, readability, length).
    """

    labels: labels.LabelOptions = labels.LabelOptions()
    phonemize: bool = True
    check_audio: bool = True


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


def wav_files(directory: Path, excluded: collections.Counter) -> list[Path]:
    """Sorted *.wav files of one folder, counting macOS '._*' metadata files as excluded.

    Archives unpacked on macOS carry '._name.wav' companions that are not audio.
    """
    found = []
    for path in sorted(directory.glob("*.wav")):
        if path.name.startswith("._"):
            excluded["macOS metadata file (._*), not audio"] += 1
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


def audio_frames(path: Path, source: str) -> int:
    """Number of samples per channel in an audio file; errors name `source`."""
    if not path.is_file():
        raise ValueError(f"{source}: audio file {path} does not exist")
    try:
        return soundfile.info(str(path)).frames
    except soundfile.SoundFileError as e:
        raise ValueError(f"{source}: {path} is not a readable audio file ({e})") from e


def unify(
    corpus: str,
    root: Path,
    raws: Iterable[RawUtterance],
    options: ReadOptions,
    excluded: collections.Counter | None = None,
) -> CorpusData:
    """Maps parsed records into the unified label space and checks them.

    Args:
      corpus: corpus name (selects the label map).
      root: where the corpus was read from (recorded in CorpusData).
      raws: the reader's records.
      options: label options and what to check or compute.
      excluded: counts the reader already made (e.g. RAVDESS song files).
    Returns:
      CorpusData with utterances sorted by id.
    Raises:
      ValueError naming the record's source for an unknown code, a missing or
      unreadable audio file, or a duplicate id.
    """
    excluded = collections.Counter(excluded or {})
    kept: dict[str, tuple[RawUtterance, str | None, float | None]] = {}
    for raw in tqdm(list(raws), desc=f"{corpus}: labels and audio", unit="utt", disable=None):
        category, action, reason = _category(corpus, raw, options.labels)
        if action == "drop":
            excluded[f"category dropped: {reason}"] += 1
            continue
        if options.check_audio and audio_frames(raw.audio_path, raw.source) == 0:
            excluded["audio file has no samples"] += 1
            continue
        if raw.id in kept:
            raise ValueError(f"{raw.source}: duplicate utterance id {raw.id!r} (also {kept[raw.id][0].source})")
        kept[raw.id] = (raw, category, _intensity(corpus, raw, category))
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
        corpus=corpus, root=str(root), utterances=utterances, excluded=dict(excluded),
        mapping=labels.describe_mapping(corpus, options.labels),
    )


def _category(corpus: str, raw: RawUtterance, options: labels.LabelOptions) -> tuple[str | None, str, str]:
    """(unified category or None, 'keep'|'mask'|'drop', reason) of one record."""
    code = raw.native_label if raw.category_code == "" else raw.category_code
    if code is None:
        return None, "keep", ""
    try:
        decision = labels.map_category(corpus, code, options)
    except ValueError as e:
        raise ValueError(f"{raw.source}: {e}") from e
    return decision.category, decision.action, decision.reason


def _intensity(corpus: str, raw: RawUtterance, category: str | None) -> float | None:
    """Intensity on [0, 1] from the record's value or native code (None = masked)."""
    if raw.intensity is not None:
        if not 0.0 <= raw.intensity <= 1.0:
            raise ValueError(f"{raw.source}: intensity {raw.intensity} is outside [0, 1]")
        return float(raw.intensity)
    try:
        return labels.map_intensity(corpus, category, raw.intensity_code)
    except ValueError as e:
        raise ValueError(f"{raw.source}: {e}") from e


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
