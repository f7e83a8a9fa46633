"""Label unification and audio checks: what turns a reader's records into a corpus.

`unify` maps each `RawUtterance` through its corpus's `labels.CorpusLabels`,
checks every kept audio file (`audio_file.check_file`, threaded, results in
input order), phonemizes transcripts and counts what it leaves out; the
reader has already counted what it could not parse.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from speecheq_jax import labels
from speecheq_jax.corpora.corpus_data import BAD_LINE, UNKNOWN_CODE, CorpusData, Exclusions, RawUtterance, ReadOptions
from speecheq_jax.errors import Exclusion, UnusableFileError
from speecheq_jax.features import audio_file, g2p
from speecheq_jax.utterance import Utterance

if TYPE_CHECKING:  # spec.py imports the readers' modules, which import this one
    from speecheq_jax.corpora.corpus_spec import CorpusSpec

_Labelled = tuple[RawUtterance, str | None, float | None]
"""A record with its unified category and intensity."""


def unify(
    spec: CorpusSpec,
    root: Path,
    raws: Iterable[RawUtterance],
    options: ReadOptions,
    excluded: Exclusions | None = None,
) -> CorpusData:
    """Maps parsed records into the unified label space and checks them.

    Args:
      spec: the corpus (its label map).
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
        decision = excluded.attempt(_labels, spec, raw, options.labels)
        if decision is None:
            continue
        category, action, reason, intensity = decision
        if action == "drop":
            excluded.count(f"category dropped: {reason}")
            continue
        labelled.append((raw, category, intensity))
    if options.check_audio:
        labelled = _usable_audio(spec.name, labelled, excluded)
    kept: dict[str, _Labelled] = {}
    for raw, category, intensity in labelled:
        if raw.id in kept:
            raise ValueError(f"{raw.source}: duplicate utterance id {raw.id!r} (also {kept[raw.id][0].source})")
        kept[raw.id] = (raw, category, intensity)
    phonemes = _phonemes([raw for raw, _, _ in kept.values()], options.phonemize)
    utterances = tuple(
        Utterance(
            id=raw.id, audio_path=str(raw.audio_path), corpus=spec.name, speaker=raw.speaker,
            gender=raw.gender, lang=raw.lang, text=raw.text, phonemes=phonemes[raw.id],
            category=category, intensity=intensity, native_label=raw.native_label, group=raw.group,
            extra_labels=dict(raw.extra_labels),
        )
        for raw, category, intensity in (kept[key] for key in sorted(kept))
    )
    return CorpusData(
        spec=spec, root=str(root), utterances=utterances, excluded=dict(excluded.counts),
        mapping=spec.labels.describe(options.labels),
        excluded_files=tuple(sorted(excluded.files, key=lambda e: (e.file, e.reason))),
    )


def _labels(spec: CorpusSpec, raw: RawUtterance,
            options: labels.LabelOptions) -> tuple[str | None, str, str, float | None]:
    """(unified category or None, 'keep'|'mask'|'drop', reason, intensity) of one record.

    Raises UnusableFileError naming the record for a code the corpus does not
    have (UNKNOWN_CODE) or an intensity outside [0, 1] (BAD_LINE).
    """
    code = raw.native_label if raw.category_code == "" else raw.category_code
    try:
        decision = None if code is None else spec.labels.map_category(code, options)
        if decision is not None and decision.action == "drop":
            return None, "drop", decision.reason, None
        category = None if decision is None else decision.category
        intensity = None if raw.intensity is not None else spec.labels.map_intensity(category, raw.intensity_code)
    except ValueError as e:
        raise UnusableFileError(raw.source, UNKNOWN_CODE, f"{spec.name}: {e}") from e
    if raw.intensity is not None:
        if not 0.0 <= raw.intensity <= 1.0:
            raise UnusableFileError(raw.source, BAD_LINE, f"intensity {raw.intensity} is outside [0, 1]")
        intensity = float(raw.intensity)
    return category, "keep" if decision is None else decision.action, "", intensity


def _usable_audio(corpus: str, labelled: list[_Labelled], excluded: Exclusions) -> list[_Labelled]:
    """The records whose audio passes audio_file.check_file; the rest excluded, in input order.

    Files are decoded in threads (libsndfile releases the GIL); results are
    taken in input order, so exclusions and strict-mode errors are deterministic.
    """
    def problem(item: _Labelled) -> Exclusion | None:
        try:
            audio_file.check_file(item[0].audio_path)
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
