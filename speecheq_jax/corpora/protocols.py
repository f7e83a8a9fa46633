"""Evaluation protocols as named folds over storage units, checked for speaker leakage.

A unit is the smallest set of utterances a protocol never splits: the speaker
(sanitised to [A-Za-z0-9_]), or, for a corpus whose spec sets
`units_by_group` (a protocol that splits each speaker, like ESD's
'official'), speaker x group. The TFDS builder stores one split per unit (each
utterance once) and a fold's train/valid/test are unions of units, so five
IEMOCAP folds do not store the corpus five times.

Each corpus spec lists its `Protocol`s; the first one a copy supports
(`Protocol.applies`) is its default. The generic ones are here:
  LEAVE_ONE_SESSION_OUT  test one group (session); valid one speaker of the
                         next group, alternating F/M by fold; train the rest.
  LEAVE_ONE_SPEAKER_OUT  test one speaker, valid the next one.
  SPEAKER_INDEPENDENT    speakers sorted by (language, gender, id) are dealt
                         round robin into k = min(5, #speakers) buckets; fold j
                         tests bucket j, validates on bucket j+1, trains on the rest.
  FIXED                  the corpus's own split: every group is train/valid/test.
A corpus module defines its own protocol with `Protocol` and `fold_by_part`.
Each protocol states how its validation part is carved (`Protocol.validation`);
the cross-validation report quotes it (`validation_note`).

A reader that cannot know an utterance's speaker (EmoBox lines of a dataset we
have no rule for) names it `UNKNOWN_SPEAKER` + a bucket of utterances: the
leak check then holds for those buckets, not for real speakers, and
`validation_note` says so.

Every fold made here passes `check_speaker_disjoint`: an overlap is an error.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Callable, Iterable

from speecheq_jax.corpora.corpus_data import CorpusData
from speecheq_jax.utterance import Utterance

PARTS: tuple[str, ...] = ("train", "valid", "test")
NUM_FOLDS = 5
UNKNOWN_SPEAKER = "unknown_"
"""Prefix of the pseudo-speaker (a bucket of utterances) a reader gives an utterance whose speaker it cannot know."""


class SpeakerLeakError(ValueError):
    """A speaker appears in more than one of a fold's train/valid/test."""


@dataclasses.dataclass(frozen=True)
class Fold:
    """One train/valid/test assignment of units.

    Attributes:
      name: e.g. 'session1', 'fold3', 'official'.
      units: 'train' / 'valid' / 'test' -> sorted unit names (see `unit_of`).
      speaker_dependent: the parts share speakers on purpose (ESD 'official');
        `check_speaker_disjoint` refuses such a fold unless explicitly allowed.
      units_by_group: its units are speaker x group (the corpus spec's
        `units_by_group`; see unit_of).
    """

    name: str
    units: dict[str, tuple[str, ...]]
    speaker_dependent: bool = False
    units_by_group: bool = False


def unit_of(utt: Utterance, by_group: bool = False) -> str:
    """Storage unit of an utterance: its sanitised speaker id, plus its group when `by_group` (spec.units_by_group)."""
    unit = re.sub(r"[^A-Za-z0-9_]", "_", utt.speaker)
    return f"{unit}_{utt.group}" if by_group and utt.group else unit


def available_protocols(data: CorpusData) -> tuple[str, ...]:
    """The corpus's protocols that this copy supports, in spec order: the first is its default.

    ESD's 'official' needs its train/evaluation/test subfolders and 'fixed'
    needs every group to be a split name; a builder that stores every protocol
    asks here instead of catching make_folds' error.
    """
    return tuple(p.name for p in data.spec.protocols if p.applies(data))


def make_folds(data: CorpusData, protocol: str | None = None) -> list[Fold]:
    """The folds of `protocol` (default: the first the copy supports) over `data`, each checked for leakage."""
    known = {p.name: p for p in data.spec.protocols}
    if protocol is None:
        available = available_protocols(data)
        protocol = available[0] if available else next(iter(known))
    if protocol not in known:
        raise ValueError(f"{data.corpus} has no protocol {protocol!r}; known: {tuple(known)}")
    folds = known[protocol].make(data)
    for fold in folds:
        check_speaker_disjoint(fold, data.utterances, allow_speaker_dependent=fold.speaker_dependent)
    return folds


def speakers_of(fold: Fold, utterances: Iterable[Utterance]) -> dict[str, tuple[str, ...]]:
    """'train' / 'valid' / 'test' -> sorted speakers of the fold's units."""
    by_unit = _speakers_by_unit(utterances, fold.units_by_group)
    return {part: tuple(sorted(set().union(*(by_unit[unit] for unit in units)))) for part, units in fold.units.items()}


def _speakers_by_unit(utterances: Iterable[Utterance], by_group: bool) -> dict[str, set[str]]:
    out = collections.defaultdict(set)
    for utt in utterances:
        out[unit_of(utt, by_group)].add(utt.speaker)
    return out


def check_speaker_disjoint(
    fold: Fold, utterances: Iterable[Utterance], *, allow_speaker_dependent: bool = False
) -> None:
    """Raises unless the fold's parts are non-empty, known, disjoint units with disjoint speakers.

    Raises:
      SpeakerLeakError: speakers shared between parts (naming them), or a
        speaker-dependent fold without `allow_speaker_dependent`.
      ValueError: a missing or empty part, an unknown unit, a unit in two parts.
    """
    if fold.speaker_dependent and not allow_speaker_dependent:
        raise SpeakerLeakError(f"fold {fold.name!r} is SPEAKER-DEPENDENT (its parts share speakers); "
                               "pass allow_speaker_dependent=True to use it knowingly")
    utterances = list(utterances)
    by_unit = _speakers_by_unit(utterances, fold.units_by_group)
    merged = {unit: sorted(names) for unit, names in by_unit.items() if len(names) > 1}
    if merged:
        raise ValueError(f"speaker ids collide after sanitising to [A-Za-z0-9_]: {merged}")
    if sorted(fold.units) != sorted(PARTS) or not all(fold.units[part] for part in PARTS):
        raise ValueError(f"fold {fold.name!r} needs non-empty {PARTS}; has "
                         f"{ {part: len(units) for part, units in fold.units.items()} }")
    unknown = sorted(set().union(*fold.units.values()) - set(by_unit))
    if unknown:
        raise ValueError(f"fold {fold.name!r} names units no utterance has: {unknown}")
    speakers = speakers_of(fold, utterances)
    for i, first in enumerate(PARTS):
        for second in PARTS[i + 1:]:
            shared_speakers = sorted(set(speakers[first]) & set(speakers[second]))
            if shared_speakers and not fold.speaker_dependent:
                raise SpeakerLeakError(f"fold {fold.name!r}: speakers {shared_speakers} are in both {first} and {second}")
            shared_units = sorted(set(fold.units[first]) & set(fold.units[second]))
            if shared_units:
                raise ValueError(f"fold {fold.name!r}: units {shared_units} are in both {first} and {second}")


def _has_fixed_split(data: CorpusData) -> bool:
    return bool(data.utterances) and all(utt.group in PARTS for utt in data.utterances)


def fold_by_part(name: str, data: CorpusData, part_of: Callable[[Utterance], str],
                 speaker_dependent: bool = False) -> Fold:
    """A Fold whose part of each unit is `part_of` its utterances."""
    by_group = data.spec.units_by_group
    units = collections.defaultdict(set)
    for utt in data.utterances:
        units[part_of(utt)].add(unit_of(utt, by_group))
    return Fold(name, {part: tuple(sorted(units[part])) for part in PARTS}, speaker_dependent, by_group)


def _speaker_fold(name: str, data: CorpusData, test: Iterable[str], valid: Iterable[str]) -> Fold:
    """Fold testing on speakers `test`, validating on `valid`, training on every other speaker."""
    part = {speaker: "test" for speaker in test} | {speaker: "valid" for speaker in valid}
    return fold_by_part(name, data, lambda utt: part.get(utt.speaker, "train"))


def _leave_one_group_out(data: CorpusData, group_of: Callable[[Utterance], str]) -> list[Fold]:
    """One fold per group: test the group; valid one speaker of the next group, F/M alternating."""
    groups = collections.defaultdict(set)
    genders = {}
    for utt in data.utterances:
        groups[group_of(utt)].add(utt.speaker)
        genders[utt.speaker] = utt.gender
    names = sorted(groups)
    if len(names) < 2:
        raise ValueError(f"{data.corpus}: leave-one-out folds need at least 2 groups, found {names}")
    folds = []
    for i, name in enumerate(names):
        preferred = "F" if i % 2 == 0 else "M"
        valid = min(groups[names[(i + 1) % len(names)]], key=lambda s: (genders[s] != preferred, s))
        folds.append(_speaker_fold(name, data, groups[name], [valid]))
    return folds


def _leave_one_session_out(data: CorpusData) -> list[Fold]:
    return _leave_one_group_out(data, lambda utt: utt.group.lower())


def _leave_one_speaker_out(data: CorpusData) -> list[Fold]:
    return _leave_one_group_out(data, lambda utt: utt.speaker)


def _speaker_independent(data: CorpusData) -> list[Fold]:
    """k folds dealing speakers round robin in (language, gender, id) order."""
    strata = {}
    for utt in data.utterances:
        strata.setdefault(utt.speaker, (utt.lang, utt.gender or "", utt.speaker))
    if len(strata) < 3:
        raise ValueError(f"{data.corpus}: speaker-independent folds need at least 3 speakers, found {sorted(strata)}")
    k = min(NUM_FOLDS, len(strata))
    buckets = [[] for _ in range(k)]
    for i, speaker in enumerate(sorted(strata, key=strata.get)):
        buckets[i % k].append(speaker)
    return [_speaker_fold(f"fold{j + 1}", data, buckets[j], buckets[(j + 1) % k]) for j in range(k)]


def _fixed(data: CorpusData) -> list[Fold]:
    """The corpus's own split: each utterance's group is its part."""
    if not _has_fixed_split(data):
        groups = sorted({utt.group for utt in data.utterances} - set(PARTS))
        raise ValueError(f"{data.corpus}: protocol 'fixed' needs every group in {PARTS}; found {groups}")
    return [fold_by_part("fixed", data, lambda utt: utt.group)]


def _always(data: CorpusData) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A named way to cut a corpus into folds.

    Attributes:
      name: e.g. 'speaker_independent' (config.data.corpora[i].protocol).
      make: data -> its folds (make_folds checks each for leakage).
      applies: whether a copy supports it (e.g. 'fixed' needs every group a split name).
      validation: how each fold's validation part is carved, for reports.
    """

    name: str
    make: Callable[[CorpusData], list[Fold]]
    applies: Callable[[CorpusData], bool] = _always
    validation: str = ""


def validation_note(protocol: Protocol, units: Iterable[str]) -> str:
    """`protocol.validation`, plus a warning when some units are pseudo-speakers (`UNKNOWN_SPEAKER`)."""
    unknown = sorted(unit for unit in units if unit.startswith(UNKNOWN_SPEAKER))
    if not unknown:
        return protocol.validation
    return (f"{protocol.validation}; SPEAKERS UNKNOWN for {len(unknown)} unit(s) ({unknown[0]}, ...): there "
            "validation is carved by utterance (buckets of utterances), not by speaker")


_DISJOINT = "speaker-disjoint from train and test"
LEAVE_ONE_SESSION_OUT = Protocol("leave_one_session_out", _leave_one_session_out,
                                 validation=f"one speaker of the next session (F/M alternating by fold), {_DISJOINT}")
LEAVE_ONE_SPEAKER_OUT = Protocol("leave_one_speaker_out", _leave_one_speaker_out,
                                 validation=f"the next speaker in sorted order, {_DISJOINT}")
SPEAKER_INDEPENDENT = Protocol("speaker_independent", _speaker_independent,
                               validation=f"the next fold's bucket of speakers, {_DISJOINT}")
FIXED = Protocol("fixed", _fixed, _has_fixed_split, validation="the corpus's own 'valid' group")
