"""Defective corpus copies: every unusable file is excluded, counted and named; folds use the rest."""

import collections
import json
import re
from pathlib import Path

import pytest

from speecheq_jax.corpora import StrictExclusionError, read_corpus
from speecheq_jax.corpora.__main__ import main
from speecheq_jax.corpora.protocols import make_folds, speakers_of
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


def _named(data, root: Path) -> dict[str, str]:
    return {Path(e.file).relative_to(root).as_posix(): e.reason for e in data.excluded_files}


def test_defective_cremad_is_read_and_every_defect_named(tmp_path):
    expected = fixtures.make_defective_cremad(tmp_path)
    data = read_corpus("cremad", tmp_path, phonemize=False)
    assert _named(data, tmp_path / "AudioWAV") == expected
    assert data.excluded == {
        "file name breaks the naming scheme": 1, "header only, no samples": 1, "zero-length file": 1,
        "cannot decode audio": 1, "silent (all-zero) audio": 6, "too short for the model (< 0.16 s)": 1,
        "macOS metadata file (._*), not audio": 1,
    }
    assert len(data.utterances) == 5 * 5  # actors 1001-1005; every file of 1006 is silent
    level = next(e for e in data.excluded_files if e.file.endswith("1001_DFA_ANG_H.wav"))
    assert level.detail == "expected <actor>_<SENT>_<EMO>_<LVL>, e.g. 1001_DFA_ANG_XX"
    folds = make_folds(data)
    assert len(folds) == 5
    for fold in folds:
        speakers = speakers_of(fold, data.utterances)
        assert "1006" not in set().union(*speakers.values())
        assert sorted(set().union(*speakers.values())) == ["1001", "1002", "1003", "1004", "1005"]
    assert read_corpus("cremad", tmp_path, phonemize=False) == data  # deterministic


def test_defective_casia_leaves_out_a_speaker_with_no_usable_file(tmp_path):
    expected = fixtures.make_defective_casia(tmp_path)
    data = read_corpus("casia", tmp_path, phonemize=False)
    assert _named(data, tmp_path) == expected
    assert collections.Counter(expected.values()) == collections.Counter(
        {reason: n for reason, n in data.excluded.items()})
    assert {u.speaker for u in data.utterances} == {"liuchanhg", "wangzhe", "zhaoquanyin"}
    folds = make_folds(data)  # leave-one-speaker-out over the 3 usable speakers
    assert [fold.name for fold in folds] == ["liuchanhg", "wangzhe", "zhaoquanyin"]


def test_summarize_lists_exclusions_and_strict_is_one_line(tmp_path, capsys):
    expected = fixtures.make_defective_cremad(tmp_path / "cremad")
    out = tmp_path / "summary.json"
    assert main(["summarize", "--corpus", "cremad", "--root", str(tmp_path / "cremad"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "excluded files" in printed
    assert re.search(r"1001_DFA_ANG_H.wav +file name breaks the naming scheme +expected <actor>", printed)
    summary = json.loads(out.read_text())
    assert {Path(e["file"]).name: e["reason"] for e in summary["excluded_files"]} == expected
    assert summary["excluded"]["silent (all-zero) audio"] == 6 and summary["utterances"] == 25
    assert main(["summarize", "--corpus", "cremad", "--root", str(tmp_path / "cremad"), "--strict"]) == 1
    err = capsys.readouterr().err
    # Files are met in sorted order: 1001_DFA_ANG_H.wav (bad name) comes first.
    assert err.count("\n") == 1 and err.startswith("error: ") and "1001_DFA_ANG_H.wav: file name breaks" in err


def test_strict_read_raises_the_first_defect(tmp_path):
    fixtures.make_defective_casia(tmp_path)
    # Labels are checked before audio is decoded, so the unknown emotion comes first.
    with pytest.raises(StrictExclusionError, match=r"wangzhe/bored/201.wav: unknown label code \("):
        read_corpus("casia", tmp_path, phonemize=False, strict=True)
    (tmp_path / "wangzhe" / "bored" / "201.wav").unlink()
    with pytest.raises(StrictExclusionError, match=r"liuchanhg/angry/202.wav: zero-length file \[strict mode"):
        read_corpus("casia", tmp_path, phonemize=False, strict=True)
