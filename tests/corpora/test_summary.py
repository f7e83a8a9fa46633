"""The corpus summary: counts, mapping, exclusions and fold speakers, as JSON and as text; the CLI."""

import json

import pytest

from speecheq_jax.corpora import read_corpus
from speecheq_jax.corpora.__main__ import main
from speecheq_jax.corpora.protocols import make_folds
from speecheq_jax.corpora.summary import render_text, summarize

pytestmark = pytest.mark.unit


def test_summary_counts_match_the_fixture(cremad_root):
    data = read_corpus("cremad", cremad_root, phonemize=False)
    summary = summarize(data, make_folds(data))
    assert summary["utterances"] == 30 and summary["with_transcript"] == 30
    assert summary["category"] == {"neutral": 6, "happy": 6, "angry": 6, "sad": 6, "disgust": 6}
    assert summary["intensity"] == {"0.000": 6, "0.333": 6, "0.667": 6, "1.000": 6, "(masked)": 6}
    assert summary["gender"] == {"F": 15, "M": 15} and summary["lang"] == {"eng": 30}
    assert summary["speakers"]["1002"] == {"gender": "F", "lang": "eng", "utterances": 5}
    assert summary["excluded"] == {"header only, no samples": 1}
    assert [e["reason"] for e in summary["excluded_files"]] == ["header only, no samples"]
    assert summary["mapping"]["NEU"] == "neutral"
    fold1 = summary["folds"][0]
    assert fold1["name"] == "fold1" and not fold1["speaker_dependent"]
    # Sorted F (1002, 1003, 1006) then M (1001, 1004, 1005) dealt into 5 buckets.
    assert fold1["parts"]["test"] == {"speakers": ["1002", "1005"], "utterances": 10}
    assert fold1["parts"]["valid"] == {"speakers": ["1003"], "utterances": 5}
    assert fold1["parts"]["train"] == {"speakers": ["1001", "1004", "1006"], "utterances": 15}
    json.dumps(summary)  # JSON-able


def test_text_tables_state_mapping_exclusions_and_speaker_dependence(esd_root, iemocap_root):
    esd = read_corpus("esd", esd_root, phonemize=False)
    text = render_text(summarize(esd, make_folds(esd, "official")))
    assert "fold official -- SPEAKER-DEPENDENT" in text
    assert "0012     (unknown)  eng           15" in text
    iemocap = read_corpus("iemocap", iemocap_root, phonemize=False)
    text = render_text(summarize(iemocap, make_folds(iemocap)))
    assert "fru     DROP (frustrated is not in the taxonomy)" in text
    assert "category dropped: frustrated is not in the taxonomy      5" in text
    assert "valid           1  Ses02F" in text


def test_cli_prints_and_writes_json(ravdess_root, tmp_path, capsys):
    out = tmp_path / "summary.json"
    assert main(["summarize", "--corpus", "ravdess", "--root", str(ravdess_root), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "corpus ravdess" in printed and "vocal channel 02 (not 01 speech; 02 is song)      6" in printed
    written = json.loads(out.read_text())
    assert written["utterances"] == 24 and len(written["folds"]) == 5


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["summarize", "--corpus", "casia", "--root", str(tmp_path / "missing")]) == 1
    assert "error: casia root" in capsys.readouterr().err
