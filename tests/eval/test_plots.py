"""Training history reading and the panels its curves are drawn in."""

import pytest

from speecheq_jax.eval.plots import metric_family, read_history
from tests.eval.test_report import write_history

pytestmark = pytest.mark.unit


def test_read_history_skips_text_and_names_bad_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    write_history(path)
    records = read_history(path)
    assert len(records) == 11 and records[3] == {"step": 25.0, "valid/ua": 0.4, "valid/eq@2": 0.3, "valid/eq": 0.35}
    path.write_text('{"step": 1, "train/loss": 2.0}\n{"train/loss": 1.0}\n')
    with pytest.raises(ValueError, match=r"history.jsonl:2: expected a JSON object with a 'step'"):
        read_history(path)
    path.write_text('{"step": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"history.jsonl:2: not JSON"):
        read_history(path)


def test_metric_families_group_panels():
    keys = ["train/loss", "train/loss_category", "valid/loss", "valid/eq@2", "valid/eq", "valid/ua", "train/lr"]
    assert [metric_family(k) for k in keys] == ["loss", "loss", "loss", "eq", "eq", "ua", "lr"]
