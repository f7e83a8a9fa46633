"""Report files: written, parseable, and showing the numbers they were given."""

import json

import pytest
from matplotlib import image

from speecheq_jax.corpora import registry
from speecheq_jax.eval.metrics import compute_metrics
from speecheq_jax.eval.report import MAX_LISTED, write_report
from tests.eval.test_metrics import random_predictions

pytestmark = pytest.mark.unit


def assert_real_png(path, min_bytes=10_000):
    """A decodable PNG with more than one colour (not a blank canvas)."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > min_bytes
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.std() > 0.01


def write_history(path):
    lines = [
        {"step": step, "train/loss": 10.0 / (step + 1), "train/loss_category": 2.0 - step / 100, "train/lr": 1e-3}
        for step in range(0, 100, 10)
    ]
    lines.insert(3, {"step": 25, "valid/ua": 0.4, "valid/eq@2": 0.3, "valid/eq": 0.35, "run": "demo"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")


def test_single_evaluation_report(tmp_path):
    metrics = compute_metrics(random_predictions(seed=0, n=300, corpora=("cremad", "iemocap")))
    mapping = {corpus: registry.get(corpus).labels.describe() for corpus in ("cremad", "iemocap")}
    write_history(tmp_path / "history.jsonl")
    written = write_report(tmp_path / "run", metrics, history_path=tmp_path / "history.jsonl",
                           label_mapping=mapping, title="Fold 0")
    assert sorted(written) == ["confusion", "curves", "metrics", "report"]
    assert json.loads(written["metrics"].read_text()) == metrics
    markdown = written["report"].read_text()
    assert markdown.startswith("# Fold 0\n")
    assert "| group | EQ | EQ@1 | EQ@2 | EQ@3 | WA | UA | macro-F1 |" in markdown
    cremad, overall = metrics["corpora"]["cremad"], metrics["overall"]
    cremad_row = next(line for line in markdown.splitlines() if line.startswith("| cremad | "))
    assert cremad_row.startswith(f"| cremad | {cremad['eq']:.3f} | {cremad['eq@1']:.3f} | {cremad['eq@2']:.3f} |")
    assert f"| **overall** | {overall['eq']:.3f} |" in markdown
    iemocap_row = next(line for line in markdown.splitlines() if line.startswith("| iemocap | "))
    assert iemocap_row.split(" | ")[3:5] == ["–", "–"]  # no EQ@2 / EQ@3 for IEMOCAP
    assert f"| overall | {overall['n']} | " in markdown
    assert "| exc | happy |" in markdown and "| xxx | DROP (annotators did not agree (xxx)) |" in markdown
    neutral_row = overall["category/confusion"]["matrix"][0]
    assert "| neutral | " + " | ".join(str(c) for c in neutral_row) + " |" in markdown
    assert "![confusion matrices](confusion.png)" in markdown and "![training curves](curves.png)" in markdown
    assert_real_png(written["confusion"])
    assert_real_png(written["curves"])


def test_report_of_several_splits(tmp_path):
    """The evaluation of a checkpoint: scalars plus one evaluation per split."""
    valid = compute_metrics(random_predictions(seed=4, n=80, corpora=("esd",)))
    test = compute_metrics(random_predictions(seed=5, n=90, corpora=("esd",)))
    valid["loss"] = {"category": 1.25, "ctc": 40.0}
    written = write_report(tmp_path, {"step": 900, "checkpoint": "best", "valid": valid, "test": test})
    assert sorted(written) == ["confusion_test", "confusion_valid", "metrics", "report"]
    markdown = written["report"].read_text()
    assert "- step: 900\n- checkpoint: best\n" in markdown
    assert markdown.index("## valid") < markdown.index("## test")
    assert "Mean loss per task: category 1.2500, ctc 40.0000" in markdown
    assert f"| **overall** | {test['overall']['eq']:.3f} |" in markdown.split("## test")[1]
    assert "![confusion matrices](confusion_test.png)" in markdown
    assert "**esd**\n\n| true \\ predicted" in markdown
    assert "**overall**\n\n| true" not in markdown  # one corpus: the overall matrix would repeat it
    assert_real_png(written["confusion_valid"])
    with pytest.raises(ValueError, match=r"top-level keys: \['step'\]"):
        write_report(tmp_path, {"step": 1})


def test_degenerate_gender_is_marked(tmp_path):
    pred = random_predictions(seed=3, n=100, corpora=("esd",))
    pred.truth["gender"][pred.truth["gender"] != -1] = 0
    metrics = compute_metrics(pred)
    markdown = write_report(tmp_path, metrics)["report"].read_text()
    assert f"{metrics['overall']['gender/accuracy']:.3f} †" in markdown


def test_report_counts_and_names_the_excluded_files(tmp_path):
    metrics = compute_metrics(random_predictions(seed=1, n=60, corpora=("cremad", "esd")))
    cremad = [{"file": "AudioWAV/1001_DFA_ANG_X.wav", "reason": "file name breaks the scheme", "detail": "level 'X'"},
              {"file": "AudioWAV/1002_IEO_SAD_LO.wav", "reason": "zero-length file", "detail": ""}]
    cremad += [{"file": f"AudioWAV/empty{i}.wav", "reason": "zero-length file", "detail": ""} for i in range(MAX_LISTED)]
    markdown = write_report(tmp_path, metrics, exclusions={"cremad": cremad, "esd": []})["report"].read_text()
    section = markdown.split("## Files excluded at preparation", 1)[1]
    assert f"**cremad**: {len(cremad)} file(s) excluded:" in section and "**esd**: 0 file(s) excluded." in section
    assert f"| zero-length file | {MAX_LISTED + 1} |" in section and "| file name breaks the scheme | 1 |" in section
    assert "| AudioWAV/1001_DFA_ANG_X.wav | file name breaks the scheme | level 'X' |" in section
    assert "... and 2 more (all in label_mapping.json)." in section
    clean = write_report(tmp_path / "clean", metrics, exclusions={"cremad": []})["report"].read_text()
    assert "None: every file of every corpus was usable." in clean
