"""RAVDESS reader: Actor_NN/MM-VV-EE-II-SS-RR-AA.wav, every label in the file name.

Fields: modality (03 = audio-only), vocal channel (01 speech, 02 song),
emotion, intensity (01 normal, 02 strong), statement (01/02), repetition,
actor (odd = male, even = female). Only audio-only speech is read; song and
other modalities are excluded and counted.
"""

from __future__ import annotations

import re
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_NAME, CorpusData, Exclusions, RawUtterance, ReadOptions, no_utterances_error, require_root, wav_files,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import UnusableFileError

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
    excluded = Exclusions(options.strict)
    raws = []
    for actor_dir in sorted(p for p in root.iterdir() if p.is_dir() and _ACTOR_DIR.match(p.name)):
        for wav in wav_files(actor_dir, excluded):
            raw = excluded.attempt(parse_file, wav, actor_dir.name[-2:], excluded)
            if raw is not None:
                raws.append(raw)
    if not raws and not excluded.counts:
        raise no_utterances_error(root, "ravdess", LAYOUT)
    return unify(SPEC, root, raws, options, excluded)


def parse_file(wav: Path, folder_actor: str, excluded: Exclusions) -> RawUtterance | None:
    """The record of one file, or None (counted) for song or non-audio-only modalities.

    Raises UnusableFileError (BAD_NAME) for a name off the scheme, an actor
    other than its folder's, or an unknown statement code.
    """
    fields = _FILE_NAME.match(wav.stem)
    if fields is None:
        raise UnusableFileError(str(wav), BAD_NAME, "expected MM-VV-EE-II-SS-RR-AA, e.g. 03-01-05-02-01-01-01")
    if fields["actor"] != folder_actor:
        raise UnusableFileError(str(wav), BAD_NAME,
                                f"actor {fields['actor']} in the name but the folder is Actor_{folder_actor}")
    if fields["modality"] != "03":
        excluded.count(f"modality {fields['modality']} (not 03 audio-only)")
        return None
    if fields["channel"] != "01":
        excluded.count(f"vocal channel {fields['channel']} (not 01 speech; 02 is song)")
        return None
    if fields["statement"] not in STATEMENTS:
        raise UnusableFileError(str(wav), BAD_NAME, f"unknown statement code {fields['statement']}")
    return RawUtterance(
        id=wav.stem, audio_path=wav, speaker=f"Actor_{fields['actor']}",
        gender="M" if int(fields["actor"]) % 2 else "F", lang="eng", text=STATEMENTS[fields["statement"]],
        native_label=fields["emotion"], group=f"Actor_{fields['actor']}", source=str(wav),
        intensity_code=fields["intensity"],
    )


SPEC = CorpusSpec(
    name="ravdess", title="RAVDESS", read=read, layout=LAYOUT, protocols=(protocols.SPEAKER_INDEPENDENT,),
    options=(labels.CorpusOption("ravdess_calm", "neutral", ("neutral", "drop"),
                                 '"neutral" maps calm onto neutral; "drop" removes it'),),
    labels=labels.CorpusLabels(
        categories={
            "01": "neutral", "02": "neutral", "03": "happy", "04": "sad", "05": "angry",
            "06": "fear", "07": "disgust", "08": "surprise",
        },
        option_drops=(labels.OptionDrop("02", "calm", "ravdess_calm"),),
        intensity_scale={"01": 1, "02": 2},
    ),
)
