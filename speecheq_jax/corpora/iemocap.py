"""IEMOCAP reader: EmoEvaluation summary lines, transcriptions, per-utterance WAVs.

Layout (IEMOCAP_full_release):
  SessionN/sentences/wav/<dialog>/<utt>.wav
  SessionN/dialog/EmoEvaluation/<dialog>.txt   one block per utterance: the summary line
      [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
    (consensus label; valence, arousal, dominance on 1..5), then per-annotator
    lines 'C-E2: ...' (categories) and 'A-E3: ...' (attributes), which are skipped.
  SessionN/dialog/transcriptions/<dialog>.txt
      Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.

The speaker is the session plus the letter of the utterance suffix
('Ses01F_impro01_M003' -> 'Ses01M'): the 'F' in the dialog name only says who
led the dialog, and taking it as the speaker leaks speakers across protocols.
"""

from __future__ import annotations

import re
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_LINE, NO_LINE, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, no_utterances_error,
    read_text_lines, require_root, wav_files,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import Exclusion, UnusableFileError

LAYOUT = (
    "IEMOCAP_full_release: SessionN/sentences/wav/<dialog>/<utt>.wav, "
    "SessionN/dialog/EmoEvaluation/<dialog>.txt, SessionN/dialog/transcriptions/<dialog>.txt"
)
_SESSION_DIR = re.compile(r"^Session([1-5])$")
_UTTERANCE_ID = re.compile(r"^(?P<dialog>Ses(?P<session>\d{2})[FM]_\w+?)_(?P<letter>[FM])\d{3}$")
_SUMMARY_LINE = re.compile(
    r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(?P<id>\S+)\s+(?P<label>\S+)\s+"
    r"\[\s*(?P<valence>[\d.]+)\s*,\s*(?P<arousal>[\d.]+)\s*,\s*(?P<dominance>[\d.]+)\s*\]\s*$"
)
_ANNOTATOR_LINE = re.compile(r"^[A-Z]-[A-Z0-9]+:")
_TRANSCRIPT_LINE = re.compile(r"^(?P<id>Ses\S+) \[[\d.]+-[\d.]+\]:\s?(?P<text>.*)$")
_NON_SPEECH_TAG = re.compile(r"\[[^\]]*\]")


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads every labelled utterance of every SessionN folder under `root`."""
    root = require_root(root, "iemocap", LAYOUT)
    sessions = sorted(p for p in root.iterdir() if p.is_dir() and _SESSION_DIR.match(p.name))
    if not sessions:
        raise no_utterances_error(root, "iemocap", LAYOUT)
    excluded = Exclusions(options.strict)
    raws = [raw for session in sessions for raw in _read_session(session, options.labels, excluded)]
    if not raws and not excluded.counts:
        raise no_utterances_error(root, "iemocap", LAYOUT)
    return unify(SPEC, root, raws, options, excluded)


def _read_session(session: Path, options: labels.LabelOptions, excluded: Exclusions) -> list[RawUtterance]:
    """Records of one session; WAVs with no label line are counted as excluded."""
    label_files = sorted((session / "dialog" / "EmoEvaluation").glob("[!.]*.txt"))
    raws = [
        raw for label_file in label_files
        for raw in _read_dialog(session, label_file, options, excluded)
    ]
    labelled = {raw.id for raw in raws}
    for dialog_dir in sorted((session / "sentences" / "wav").glob("[!.]*")):
        if dialog_dir.is_dir():
            unlabelled = [p for p in wav_files(dialog_dir, excluded) if p.stem not in labelled]
            excluded.count("WAV without an EmoEvaluation summary line", len(unlabelled))
    return raws


def _read_dialog(session: Path, label_file: Path, options: labels.LabelOptions,
                 excluded: Exclusions) -> list[RawUtterance]:
    """Records of one dialog: its EmoEvaluation summary lines joined with its transcript.

    A summary line that does not parse or names another dialog's utterance
    (BAD_LINE), or whose utterance has no transcript (NO_LINE), is excluded.
    """
    transcripts = parse_transcription(session / "dialog" / "transcriptions" / f"{label_file.stem}.txt", excluded)
    raws = []
    for line_no, line in enumerate(read_text_lines(label_file), 1):
        raw = excluded.attempt(_record, session, label_file, line, line_no, transcripts, options)
        if raw is not None:
            raws.append(raw)
    return raws


def _record(session: Path, label_file: Path, line: str, line_no: int, transcripts: dict[str, str],
            options: labels.LabelOptions) -> RawUtterance | None:
    """The record of one EmoEvaluation line, None for lines to skip; UnusableFileError names a bad one."""
    dialog, source = label_file.stem, f"{label_file}:{line_no}"
    summary = parse_summary_line(line, source)
    if summary is None:
        return None
    utt_id, native, arousal = summary
    utt_dialog, speaker = parse_utterance_id(utt_id, source)
    if utt_dialog != dialog or speaker[3:5] != f"{int(session.name[-1]):02d}":
        raise UnusableFileError(source, BAD_LINE,
                                f"utterance {utt_id} does not belong to {session.name} dialog {dialog}")
    if utt_id not in transcripts:
        raise UnusableFileError(source, NO_LINE,
                                f"{utt_id} has no line in {session / 'dialog' / 'transcriptions' / dialog}.txt")
    text = transcripts[utt_id]
    return RawUtterance(
        id=utt_id,
        audio_path=session / "sentences" / "wav" / dialog / f"{utt_id}.wav",
        speaker=speaker, gender=speaker[-1], lang="eng", text=text, native_label=native,
        group=session.name, source=source,
        intensity=arousal_to_intensity(arousal) if options.corpus_option("iemocap_arousal") else None,
        spoken_text=" ".join(_NON_SPEECH_TAG.sub(" ", text).split()),
    )


def parse_summary_line(line: str, source: str) -> tuple[str, str, float] | None:
    """(utterance id, native label, arousal) of a summary line; None for lines to skip.

    Skipped: blank lines, the '%' header, per-annotator 'C-..:' / 'A-..:' lines.
    Anything else that does not parse raises UnusableFileError (BAD_LINE) naming `source`.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("%") or _ANNOTATOR_LINE.match(stripped):
        return None
    match = _SUMMARY_LINE.match(stripped)
    if match is None:
        raise UnusableFileError(source, BAD_LINE, f"{stripped!r}; expected "
                                "'[start - end]<TAB>utterance<TAB>label<TAB>[val, act, dom]'")
    return match["id"], match["label"], float(match["arousal"])


def parse_utterance_id(utt_id: str, source: str) -> tuple[str, str]:
    """(dialog, speaker): 'Ses01F_impro01_M003' -> ('Ses01F_impro01', 'Ses01M').

    The speaker is the session plus the letter of the utterance suffix.
    """
    match = _UTTERANCE_ID.match(utt_id)
    if match is None:
        raise UnusableFileError(source, BAD_LINE, f"{utt_id!r} is not an IEMOCAP utterance id like Ses01F_impro01_F000")
    return match["dialog"], f"Ses{match['session']}{match['letter']}"


def parse_transcription(path: Path, excluded: Exclusions) -> dict[str, str]:
    """Utterance id -> transcript of one dialog.

    Lines without an utterance id (e.g. 'M: [BREATHING]', speech outside any
    segmented utterance) carry no utterance and are skipped; a line that starts
    like an id but does not parse is excluded (BAD_LINE).
    """
    if not path.is_file():
        raise CorpusLayoutError(f"missing IEMOCAP transcription file {path}; expected {LAYOUT}")
    out = {}
    for line_no, line in enumerate(read_text_lines(path), 1):
        stripped = line.strip()
        if not stripped.startswith("Ses"):
            continue
        match = _TRANSCRIPT_LINE.match(stripped)
        if match is None:
            excluded.add(Exclusion(f"{path}:{line_no}", BAD_LINE,
                                   f"{stripped!r}; expected 'Ses01F_impro01_F000 [006.2901-008.2357]: text'"))
            continue
        out[match["id"]] = match["text"].strip()
    return out


def arousal_to_intensity(arousal: float) -> float:
    """Consensus arousal on 1..5 -> [0, 1] as (a - 1) / 4 (dimensional target, label option iemocap_arousal)."""
    return float(min(max((arousal - 1.0) / 4.0, 0.0), 1.0))


SPEC = CorpusSpec(
    name="iemocap", title="IEMOCAP", read=read, layout=LAYOUT, protocols=(protocols.LEAVE_ONE_SESSION_OUT,),
    options=(
        labels.CorpusOption("iemocap_exc", "merge", ("merge", "drop"),
                            '"merge" excited into happy (the standard 4-class setup) or "drop" it'),
        labels.CorpusOption("iemocap_arousal", False, (False, True),
                            "the consensus arousal 1..5 -> (a - 1) / 4 as the intensity target (dimensional: "
                            "never in EQ@k)"),
    ),
    labels=labels.CorpusLabels(
        categories={
            "neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad",
            "sur": "surprise", "fea": "fear", "dis": "disgust", "fru": None, "oth": None, "xxx": None,
        },
        outside_reasons={
            "fru": "frustrated is not in the taxonomy",
            "oth": "'other' is not an emotion category",
            "xxx": "annotators did not agree (xxx)",
        },
        option_drops=(labels.OptionDrop("exc", "excited", "iemocap_exc"),),
    ),
)
