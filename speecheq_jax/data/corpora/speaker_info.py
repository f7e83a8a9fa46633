"""User-supplied speaker genders (a CSV with columns speaker,gender).

Some corpora do not document every speaker's gender (ESD): the reader leaves
those None (masked, never guessed) and a user who knows them supplies this
file. It fills unknown genders only; a gender that contradicts the corpus's
own documentation, or a speaker the corpus does not have, is an error naming
the line (a typo such as '12' for '0012' must not pass silently).
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from speecheq_jax.data.corpora.base import CorpusData


def read_speaker_genders(path: str | Path) -> dict[str, tuple[str, str]]:
    """speaker -> (gender 'F'|'M', 'file:line') from a speaker,gender CSV."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f)
        if not {"speaker", "gender"} <= set(rows.fieldnames or ()):
            raise ValueError(f"{path}:1: expected a header with columns speaker,gender")
        out = {}
        for row in rows:
            gender = (row["gender"] or "").strip()
            if gender not in ("F", "M"):
                raise ValueError(f"{path}:{rows.line_num}: gender {gender!r}; expected F or M")
            out[row["speaker"].strip()] = (gender, f"{path}:{rows.line_num}")
    return out


def apply_speaker_info(data: CorpusData, path: str | Path) -> CorpusData:
    """CorpusData with unknown genders filled from the CSV at `path`."""
    genders = read_speaker_genders(path)
    known = {utt.speaker: utt.gender for utt in data.utterances}
    for speaker, (gender, source) in genders.items():
        if speaker not in known:
            raise ValueError(f"{source}: speaker {speaker!r} is not in {data.corpus}; known: {sorted(known)}")
        if known[speaker] not in (None, gender):
            raise ValueError(f"{source}: {speaker} is {known[speaker]} in the {data.corpus} documentation, not {gender}")
    utterances = tuple(
        dataclasses.replace(utt, gender=genders[utt.speaker][0]) if utt.speaker in genders else utt
        for utt in data.utterances
    )
    return dataclasses.replace(data, utterances=utterances)
