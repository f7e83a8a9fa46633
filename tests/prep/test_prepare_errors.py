"""Preparation of defective corpora and bad inputs: exclusions in the metadata, one-line errors, nothing lost."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorflow_datasets.core import file_adapters

from speecheq_jax.errors import DataError, StrictExclusionError
from speecheq_jax.input import pipeline
from speecheq_jax.input.data_config import default_data_config
from speecheq_jax.jobs.train_and_evaluate import write_label_mapping
from speecheq_jax.prep import prepare
from tests.corpora import fixtures

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cremad")
    return root, fixtures.make_defective_cremad(root)


def _data_config(data_dir: Path, root: Path):
    config = default_data_config()
    config.data_dir = str(data_dir)
    config.corpora = [{"name": "cremad", "root": str(root), "fold": None, "protocol": None, "weight": 1.0}]
    return config


@pytest.mark.integration
def test_defective_corpus_is_prepared_and_its_exclusions_kept(defective, tmp_path):
    root, expected = defective
    config = _data_config(tmp_path / "data", root)
    (prepared,) = prepare.prepare_all(config, progress=False)
    assert {Path(e.file).name: e.reason for e in prepared.excluded_files} == expected
    assert prepared.labels["excluded"]["silent (all-zero) audio"] == 6
    assert prepared.labels["num_utterances"] == sum(prepared.split_sizes.values()) == 25
    assert sorted(prepared.split_sizes) == ["1001", "1002", "1003", "1004", "1005"]
    for fold in prepared.folds["speaker_independent"]:
        assert "1006" not in sum(fold["units"].values(), [])
    spec = pipeline.load_spec(config)
    write_label_mapping(tmp_path, spec)
    written = json.loads((tmp_path / "label_mapping.json").read_text())["corpora"]["cremad"]
    assert {Path(e["file"]).name: e["reason"] for e in written["excluded_files"]} == expected
    assert written["excluded"] == prepared.labels["excluded"]
    # strict refuses a dataset that excluded files, even one already prepared.
    config.strict = True
    refused = rf"was prepared with {len(expected)} excluded file\(s\), e.g. .*; strict mode refuses it"
    with pytest.raises(DataError, match=refused):
        prepare.prepare_all(config, progress=False)


@pytest.mark.integration
def test_strict_preparation_stops_at_the_first_defect_and_keeps_nothing(defective, tmp_path):
    root, _ = defective
    with pytest.raises(StrictExclusionError, match=r"1001_DFA_ANG_H.wav: file name breaks the naming scheme") as e:
        prepare.prepare("cremad", tmp_path, root=root, progress=False, strict=True)
    assert "\n" not in str(e.value)
    with pytest.raises(prepare.NotPreparedError):
        prepare.open_prepared("cremad", tmp_path, root=root)


@pytest.mark.unit
def test_missing_or_empty_root_names_corpus_path_and_layout(tmp_path):
    with pytest.raises(DataError, match=rf"cremad root {tmp_path / 'nope'} is not a directory; expected AudioWAV/"):
        prepare.prepare("cremad", tmp_path / "data", root=tmp_path / "nope", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=rf"{tmp_path / 'empty'}: found no casia audio; expected <speaker>/<emotion>"):
        prepare.prepare("casia", tmp_path / "data", root=tmp_path / "empty", progress=False)


@pytest.mark.unit
def test_unwritable_data_dir_is_one_line(defective, tmp_path, capsys):
    root, _ = defective
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(DataError, match=rf"data_dir {blocker} cannot be written \(File exists\)"):
        prepare.prepare("cremad", blocker, root=root, progress=False)
    assert prepare.main(["--corpus", "cremad", "--root", str(root), "--data_dir", str(blocker / "sub")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: data_dir {blocker / 'sub'} cannot be written")


@pytest.mark.unit
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_data_dir_is_one_line(defective, tmp_path):
    root, _ = defective
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(DataError, match="cannot be written"):
        prepare.prepare("cremad", tmp_path / "ro", root=root, progress=False)


@pytest.mark.unit
def test_a_data_dir_refusing_writes_is_one_line(defective, tmp_path, monkeypatch):
    """What a read-only directory does for a non-root user, simulated (the tests may run as root)."""
    root, _ = defective

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(prepare.tempfile, "TemporaryFile", refuse)
    with pytest.raises(DataError, match=rf"data_dir {tmp_path} cannot be written \(Permission denied\)"):
        prepare.prepare("cremad", tmp_path, root=root, progress=False)


@pytest.mark.integration
def test_full_disk_keeps_nothing_and_the_next_run_prepares(defective, tmp_path, monkeypatch):
    root, _ = defective
    real = file_adapters.ArrayRecordFileAdapter.write_examples
    shards = []

    def fill_the_disk(cls, path, iterator):
        shards.append(path)
        if len(shards) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, iterator)

    monkeypatch.setattr(file_adapters.ArrayRecordFileAdapter, "write_examples", classmethod(fill_the_disk))
    with pytest.raises(DataError, match=rf"disk full while preparing cremad in {tmp_path} \(writing .*\); nothing"):
        prepare.prepare("cremad", tmp_path, root=root, progress=False)
    assert len(shards) == 3  # two shards were written before the disk filled up
    assert not [p for p in tmp_path.rglob("*") if "incomplete" in p.name]
    with pytest.raises(prepare.NotPreparedError):
        prepare.open_prepared("cremad", tmp_path, root=root)
    monkeypatch.setattr(file_adapters.ArrayRecordFileAdapter, "write_examples", real)
    done = prepare.prepare("cremad", tmp_path, root=root, progress=False)
    assert sum(done.split_sizes.values()) == 25


@pytest.mark.unit
def test_main_prepare_reports_a_missing_root_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "speecheq_jax.main", "--config", f"configs/cremad.py:root={tmp_path / 'nope'}",
         "--config.data.data_dir", str(tmp_path / "data"), "--workdir", str(tmp_path / "run"), "--mode", "prepare"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1] == (f"data error: cremad root {tmp_path / 'nope'} is not a directory; expected "
                         "AudioWAV/<actor>_<SENT>_<EMO>_<LVL>.wav (e.g. AudioWAV/1001_DFA_ANG_XX.wav) and "
                         "VideoDemographics.csv"), result.stderr
