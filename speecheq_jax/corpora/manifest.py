"""Generic manifest reader (CSV or JSONL): how a user brings SEQD or any corpus of their own.

Columns are Utterance fields. Required: audio_path (relative to the manifest's
folder, or absolute), speaker, lang, and a label column: `category` (a unified
name, or empty = masked) and/or `native_label` (used as the category code when
there is no `category` column). Optional: id (default: audio_path without its
suffix), gender (F/M/empty), text, phonemes (space-separated in CSV, a list in
JSONL; else g2p of the text), intensity (on [0, 1]), group (train/valid/test
gives the manifest its own fixed split), corpus (accepted so that files written
by `utterance.write_jsonl` read back; the corpus is always 'manifest').
Unknown columns are an error, so a misspelt column never goes unnoticed; a row
that is not valid JSON, lacks a required value or holds a bad gender or
intensity is excluded and named (BAD_LINE), like a defective file of a corpus.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_LINE, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import UnusableFileError

REQUIRED: tuple[str, ...] = ("audio_path", "speaker", "lang")
OPTIONAL: tuple[str, ...] = ("id", "gender", "text", "phonemes", "category", "native_label", "intensity", "group", "corpus")
NAMES: tuple[str, ...] = ("manifest.jsonl", "manifest.csv")
LAYOUT = f"a .csv or .jsonl manifest file, or a folder holding one of {NAMES}"

Row = tuple[str, dict[str, object]]
"""(source 'file:line', column -> value) of one manifest row."""


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads a manifest file (or the manifest in a folder) into unified utterances."""
    path = manifest_path(Path(root))
    excluded = Exclusions(options.strict)
    rows = read_rows(path, excluded)
    raws = [raw for raw in (excluded.attempt(raw_from_row, row, source, path.parent) for source, row in rows) if raw]
    return unify(SPEC, path, raws, options, excluded)


def manifest_path(root: Path) -> Path:
    """The manifest file `root` names, directly or as the one manifest in a folder."""
    if root.is_file() and root.suffix in (".csv", ".jsonl"):
        return root
    found = [root / name for name in NAMES if (root / name).is_file()] if root.is_dir() else []
    if len(found) != 1:
        raise CorpusLayoutError(f"{root}: expected {LAYOUT}; found {[p.name for p in found] or 'none'}")
    return found[0]


def read_rows(path: Path, excluded: Exclusions) -> list[Row]:
    """Rows of a CSV (header line) or JSONL file; a JSONL line that is no JSON object is excluded.

    Raises CorpusLayoutError for a manifest without rows or with a column that
    is not an Utterance field.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        if path.suffix == ".csv":
            reader = csv.DictReader(f)
            rows = [(f"{path}:{reader.line_num}", dict(row)) for row in reader]
        else:
            parsed = ((f"{path}:{n}", excluded.attempt(json_object, line, f"{path}:{n}"))
                      for n, line in enumerate(f, 1) if line.strip())
            rows = [(source, row) for source, row in parsed if row is not None]
    if not rows and not excluded.counts:
        raise CorpusLayoutError(f"{path}: the manifest has no rows")
    for source, row in rows:
        unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            raise CorpusLayoutError(f"{source}: unknown column(s) {unknown}; known: {list(REQUIRED + OPTIONAL)}")
    return rows


def json_object(line: str, source: str) -> dict[str, object]:
    """The JSON object of one line; UnusableFileError (BAD_LINE) naming `source` otherwise (EmoBox reads lines too)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        raise UnusableFileError(source, BAD_LINE, f"not valid JSON ({e})") from e
    if not isinstance(value, dict):
        raise UnusableFileError(source, BAD_LINE, f"expected a JSON object, got {type(value).__name__}")
    return value


def _check_values(row: dict[str, object], source: str) -> None:
    """Raises UnusableFileError (BAD_LINE) for a row without its required values or a label column."""
    missing = [name for name in REQUIRED if _value(row, name) is None]
    if missing:
        raise UnusableFileError(source, BAD_LINE, f"missing value(s) for {missing}")
    if "category" not in row and _value(row, "native_label") is None:
        raise UnusableFileError(source, BAD_LINE, "a row needs a 'category' or a 'native_label' column")


def _value(row: dict[str, object], name: str) -> object | None:
    """A cell, with absent, null and empty all meaning None."""
    value = row.get(name)
    return None if value is None or value == "" else value


def raw_from_row(row: dict[str, object], source: str, base_dir: Path) -> RawUtterance:
    """One manifest row -> RawUtterance; paths resolve against the manifest's folder.

    Raises UnusableFileError (BAD_LINE) for missing values, a bad gender or intensity.
    """
    _check_values(row, source)
    audio_path = str(_value(row, "audio_path"))
    gender = _value(row, "gender")
    if gender not in ("F", "M", None):
        raise UnusableFileError(source, BAD_LINE, f"gender {gender!r}; expected F, M or empty")
    category = _value(row, "category")
    native_label = _value(row, "native_label") or category or ""
    return RawUtterance(
        id=str(_value(row, "id") or Path(audio_path).with_suffix("").as_posix()),
        audio_path=base_dir / audio_path, speaker=str(_value(row, "speaker")), gender=gender,
        lang=str(_value(row, "lang")), text=_value(row, "text"), native_label=str(native_label),
        group=str(_value(row, "group") or ""), source=source,
        category_code=category if "category" in row else str(native_label),
        intensity=_float(_value(row, "intensity"), source), phonemes=_phoneme_tokens(_value(row, "phonemes")),
    )


def _float(value: object | None, source: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise UnusableFileError(source, BAD_LINE, f"intensity {value!r} is not a number") from e


def _phoneme_tokens(value: object | None) -> tuple[str, ...] | None:
    """Space-separated string (CSV) or list (JSONL) -> tokens; None when absent."""
    if value is None:
        return None
    return tuple(value.split()) if isinstance(value, str) else tuple(str(token) for token in value)


SPEC = CorpusSpec(
    name="manifest", title="manifest", read=read, layout=LAYOUT, protocols=(protocols.FIXED, protocols.SPEAKER_INDEPENDENT),
    labels=labels.CorpusLabels(categories={name: name for name in labels.CATEGORIES}),
)
