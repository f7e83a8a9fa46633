"""CREMA-D reader: AudioWAV/<actor>_<SENT>_<EMO>_<LVL>.wav plus VideoDemographics.csv.

The file name carries the actor (1001-1091), one of 12 fixed sentences, the
emotion and the level (LO/MD/HI, XX = unspecified: masked (SPEC.labels), never a
class). Genders come from VideoDemographics.csv (ActorID,Age,Sex,Race,Ethnicity).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_NAME, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, no_utterances_error, require_root,
    wav_files,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import UnusableFileError

SENTENCES: dict[str, str] = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
DEMOGRAPHICS = "VideoDemographics.csv"
LAYOUT = f"AudioWAV/<actor>_<SENT>_<EMO>_<LVL>.wav (e.g. AudioWAV/1001_DFA_ANG_XX.wav) and {DEMOGRAPHICS}"
_SEX = {"Male": "M", "Female": "F"}
_FILE_NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads every AudioWAV/*.wav under `root`, genders from the demographics file."""
    root = require_root(root, "cremad", LAYOUT)
    audio_dir = root / "AudioWAV"
    if not audio_dir.is_dir():
        raise CorpusLayoutError(f"{root}: no AudioWAV folder; expected {LAYOUT}")
    genders = read_demographics(root / DEMOGRAPHICS)
    excluded = Exclusions(options.strict)
    parsed = [excluded.attempt(parse_file, wav, genders) for wav in wav_files(audio_dir, excluded)]
    raws = [raw for raw in parsed if raw is not None]
    if not raws and not excluded.counts:
        raise no_utterances_error(root, "cremad", LAYOUT)
    return unify(SPEC, root, raws, options, excluded)


def parse_file(wav: Path, genders: dict[str, str]) -> RawUtterance:
    """The record of one file.

    Raises UnusableFileError (BAD_NAME) for a name that does not follow the
    scheme (e.g. a one-letter level '1001_DFA_ANG_H'), an unknown sentence code
    or an actor missing from the demographics file.
    """
    fields = _FILE_NAME.match(wav.stem)
    if fields is None:
        raise UnusableFileError(str(wav), BAD_NAME, "expected <actor>_<SENT>_<EMO>_<LVL>, e.g. 1001_DFA_ANG_XX")
    if fields["sentence"] not in SENTENCES:
        raise UnusableFileError(str(wav), BAD_NAME, f"unknown sentence code {fields['sentence']}")
    if fields["actor"] not in genders:
        raise UnusableFileError(str(wav), BAD_NAME, f"actor {fields['actor']} is not in {DEMOGRAPHICS}")
    return RawUtterance(
        id=wav.stem, audio_path=wav, speaker=fields["actor"], gender=genders[fields["actor"]], lang="eng",
        text=SENTENCES[fields["sentence"]], native_label=fields["emotion"], group=fields["actor"],
        source=str(wav), intensity_code=fields["level"],
    )


def read_demographics(path: Path) -> dict[str, str]:
    """ActorID -> 'F' | 'M' from VideoDemographics.csv; errors name file and line."""
    if not path.is_file():
        raise CorpusLayoutError(f"missing {path}; expected {LAYOUT}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f)
        missing = {"ActorID", "Sex"} - set(rows.fieldnames or ())
        if missing:
            raise ValueError(f"{path}:1: missing column(s) {sorted(missing)}; expected ActorID,Age,Sex,Race,Ethnicity")
        genders = {}
        for row in rows:
            sex = (row["Sex"] or "").strip()
            if sex not in _SEX:
                raise ValueError(f"{path}:{rows.line_num}: Sex {sex!r} for actor {row['ActorID']}; expected Male or Female")
            genders[row["ActorID"].strip()] = _SEX[sex]
    return genders


SPEC = CorpusSpec(
    name="cremad", title="CREMA-D", read=read, layout=LAYOUT, protocols=(protocols.SPEAKER_INDEPENDENT,),
    labels=labels.CorpusLabels(
        categories={"NEU": "neutral", "HAP": "happy", "ANG": "angry", "SAD": "sad", "FEA": "fear", "DIS": "disgust"},
        intensity_scale={"LO": 1, "MD": 2, "HI": 3},
        unknown_intensity=frozenset({"XX"}),
    ),
)
