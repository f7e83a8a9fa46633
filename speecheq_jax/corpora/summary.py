"""What a corpus holds after unification, and how its folds split it: a dict and text tables.

Printed at data preparation so that a label merge, an exclusion or a
speaker-dependent protocol is always stated, never discovered later.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from speecheq_jax import labels
from speecheq_jax.corpora.corpus_data import CorpusData
from speecheq_jax.corpora.protocols import Fold, speakers_of, unit_of
from speecheq_jax.utterance import Utterance

MASKED = "(masked)"
UNKNOWN = "(unknown)"


def summarize(data: CorpusData, folds: list[Fold]) -> dict:
    """JSON-able summary: counts per category, intensity, speaker, gender, language; mapping; exclusions
    (counts by reason, and each excluded file with its reason); folds."""
    utts = data.utterances
    return {
        "corpus": data.corpus,
        "root": data.root,
        "utterances": len(utts),
        "with_transcript": sum(utt.text is not None for utt in utts),
        "with_phonemes": sum(utt.phonemes is not None for utt in utts),
        "category": _ordered_counts((utt.category or MASKED for utt in utts), labels.CATEGORIES),
        "intensity": _ordered_counts((_intensity_name(utt.intensity) for utt in utts), ()),
        "gender": _ordered_counts((utt.gender or UNKNOWN for utt in utts), labels.GENDERS),
        "lang": _ordered_counts((utt.lang for utt in utts), ()),
        "native_label": _ordered_counts((utt.native_label for utt in utts), ()),
        "speakers": _speaker_table(utts),
        "mapping": dict(data.mapping),
        "excluded": dict(sorted(data.excluded.items())),
        "excluded_files": [exclusion.to_dict() for exclusion in data.excluded_files],
        "folds": [_fold_summary(fold, utts) for fold in folds],
    }


def _intensity_name(intensity: float | None) -> str:
    return MASKED if intensity is None else f"{intensity:.3f}"


def _ordered_counts(values: Iterable[str], order: tuple[str, ...]) -> dict[str, int]:
    """Counts of values: those in `order` first (omitting zeros), the rest sorted, MASKED/UNKNOWN last."""
    counts = collections.Counter(values)
    last = (MASKED, UNKNOWN)
    keys = [key for key in order if counts[key]] + sorted(set(counts) - set(order) - set(last))
    return {key: counts[key] for key in keys + [key for key in last if counts[key]]}


def _speaker_table(utts: tuple[Utterance, ...]) -> dict[str, dict]:
    """speaker -> {gender, lang, utterances}."""
    out: dict[str, dict] = {}
    for utt in utts:
        row = out.setdefault(utt.speaker, {"gender": utt.gender or UNKNOWN, "lang": utt.lang, "utterances": 0})
        row["utterances"] += 1
    return dict(sorted(out.items()))


def _fold_summary(fold: Fold, utts: tuple[Utterance, ...]) -> dict:
    speakers = speakers_of(fold, utts)
    counts = collections.Counter()
    part_of_unit = {unit: part for part, units in fold.units.items() for unit in units}
    for utt in utts:
        counts[part_of_unit.get(unit_of(utt, fold.units_by_group))] += 1
    return {
        "name": fold.name,
        "speaker_dependent": fold.speaker_dependent,
        "parts": {part: {"speakers": list(speakers[part]), "utterances": counts[part]} for part in fold.units},
    }


def render_text(summary: dict) -> str:
    """Readable tables of a `summarize` result."""
    lines = [f"corpus {summary['corpus']} at {summary['root']}: {summary['utterances']} utterances "
             f"({summary['with_transcript']} with transcript, {summary['with_phonemes']} with phonemes)"]
    for key in ("category", "intensity", "gender", "lang", "native_label"):
        lines += _table(f"utterances per {key}", (key, "count"), list(summary[key].items()))
    lines += _table("mapping applied (native -> unified)", ("native", "unified"), list(summary["mapping"].items()))
    lines += _table("excluded", ("reason", "count"), list(summary["excluded"].items()) or [("(nothing)", 0)])
    if summary["excluded_files"]:
        lines += _table("excluded files", ("file", "reason", "detail"),
                        [(e["file"], e["reason"], e["detail"]) for e in summary["excluded_files"]])
    lines += _table("speakers", ("speaker", "gender", "lang", "utterances"),
                    [(name, row["gender"], row["lang"], row["utterances"]) for name, row in summary["speakers"].items()])
    for fold in summary["folds"]:
        title = f"fold {fold['name']}" + (" -- SPEAKER-DEPENDENT: test speakers are seen in training" if fold["speaker_dependent"] else "")
        lines += _table(title, ("part", "utterances", "speakers"),
                        [(part, row["utterances"], " ".join(row["speakers"])) for part, row in fold["parts"].items()])
    return "\n".join(lines) + "\n"


def _table(title: str, header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    """A titled, column-aligned text table (numbers right-aligned)."""
    cells = [tuple(str(value) for value in row) for row in rows]
    widths = [max(len(text) for text in column) for column in zip(header, *cells)]
    numeric = [all(isinstance(row[i], int) for row in rows) for i in range(len(header))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return ["", title, line(header), "  ".join("-" * w for w in widths), *(line(row) for row in cells)]
