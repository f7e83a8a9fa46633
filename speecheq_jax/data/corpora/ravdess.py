"""RAVDESS reader: Actor_NN/MM-VV-EE-II-SS-RR-AA.wav, every label in the file name.

Fields: modality (03 = audio-only), vocal channel (01 speech, 02 song),
emotion, intensity (01 normal, 02 strong), statement (01/02), repetition,
actor (odd = male, even = female). Only audio-only speech is read; song and
other modalities are excluded and counted.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

from speecheq_jax.data.corpora.base import (
    CorpusData, RawUtterance, ReadOptions, no_utterances_error, require_root, unify, wav_files,
)

STATEMENTS: dict[str, str] = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
LAYOUT = "Actor_NN/MM-VV-EE-II-SS-RR-AA.wav (e.g. Actor_01/03-01-05-02-01-01-01.wav)"
_ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
_FILE_NAME = re.compile(
    r"^(?P<modality>\d{2})-(?P<channel>\d{2})-(?P<emotion>\d{2})-(?P<intensity>\d{2})-"
    r"(?P<statement>\d{2})-(?P<repetition>\d{2})-(?P<actor>\d{2})$"
)


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads the audio-only speech files of every Actor_NN folder under `root`."""
    root = require_root(root, "ravdess", LAYOUT)
    excluded: collections.Counter = collections.Counter()
    raws = []
    for actor_dir in sorted(p for p in root.iterdir() if p.is_dir() and _ACTOR_DIR.match(p.name)):
        for wav in wav_files(actor_dir, excluded):
            raw = parse_file(wav, actor_dir.name[-2:], excluded)
            if raw is not None:
                raws.append(raw)
    if not raws and not excluded:
        raise no_utterances_error(root, "ravdess", LAYOUT)
    return unify("ravdess", root, raws, options, excluded)


def parse_file(wav: Path, folder_actor: str, excluded: collections.Counter) -> RawUtterance | None:
    """The record of one file, or None (counted) for song or non-audio-only modalities."""
    fields = _FILE_NAME.match(wav.stem)
    if fields is None:
        raise ValueError(f"{wav}: file name does not follow {LAYOUT}")
    if fields["actor"] != folder_actor:
        raise ValueError(f"{wav}: actor {fields['actor']} in the name but the folder is Actor_{folder_actor}")
    if fields["modality"] != "03":
        excluded[f"modality {fields['modality']} (not 03 audio-only)"] += 1
        return None
    if fields["channel"] != "01":
        excluded[f"vocal channel {fields['channel']} (not 01 speech; 02 is song)"] += 1
        return None
    if fields["statement"] not in STATEMENTS:
        raise ValueError(f"{wav}: unknown statement code {fields['statement']}; known: {sorted(STATEMENTS)}")
    return RawUtterance(
        id=wav.stem, audio_path=wav, speaker=f"Actor_{fields['actor']}",
        gender="M" if int(fields["actor"]) % 2 else "F", lang="eng", text=STATEMENTS[fields["statement"]],
        native_label=fields["emotion"], group=f"Actor_{fields['actor']}", source=str(wav),
        intensity_code=fields["intensity"],
    )
