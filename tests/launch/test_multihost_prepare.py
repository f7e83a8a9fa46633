"""A multi-host job never prepares data: with a dataset missing, every process stops at once with the
prepare command in one line; once that command has run, the same job trains (2 local processes)."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speecheq_jax.prep import multihost
from tests.test_configs import load_config_module
from tests.train.test_multihost import REPO, _launch

pytestmark = pytest.mark.integration
REFUSAL = re.compile(r"^data error: a multi-host run .*$", re.MULTILINE)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _two_processes(workdir: Path, data_dirs: tuple[Path, Path], timeout: float = 300) -> list[tuple[int, str]]:
    """Starts process 0 and 1 of one job (4 CPU devices each); (exit code, output) of each."""
    port = _port()
    processes = [_launch(workdir, data_dir, devices=4, process_id=i, num_processes=2, port=port)
                 for i, data_dir in enumerate(data_dirs)]
    with ThreadPoolExecutor(2) as pool:  # both pipes drained at once: neither process blocks on a full pipe
        outputs = list(pool.map(lambda p: p.communicate(timeout=timeout)[0], processes))
    return [(p.returncode, output) for p, output in zip(processes, outputs)]


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> tuple[Path, list[tuple[int, str]], float]:
    """Two processes started on an empty data_dir: (data_dir, results, seconds until both ended)."""
    tmp = tmp_path_factory.mktemp("refused")
    start = time.perf_counter()
    results = _two_processes(tmp / "run", (tmp / "data", tmp / "data"))
    return tmp / "data", results, time.perf_counter() - start


@pytest.fixture(scope="module")
def prepared(refused) -> Path:
    """The data_dir once the command named by the refusal has run (as printed, in this interpreter)."""
    data_dir, results, _ = refused
    command = shlex.split(REFUSAL.search(results[0][1]).group(0).split("prepare them first, in one process: ")[1])
    assert command[:3] == ["python", "-m", "speecheq_jax.prep.prepare"], command
    done = subprocess.run([sys.executable, *command[1:], "--no_progress"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return data_dir


def test_missing_dataset_stops_every_process_with_the_prepare_command(refused):
    data_dir, results, seconds = refused
    for code, output in results:
        assert code == 1, output[-2000:]
        lines = REFUSAL.findall(output)
        assert len(lines) == 1, output[-2000:]
        assert f"python -m speecheq_jax.prep.prepare --corpus seqd_synth --data_dir {data_dir}" in lines[0]
        assert "--synth" in lines[0] and '"num": 48' in lines[0]
        assert "[prepare]" not in output  # nothing was prepared, by either process
    assert not data_dir.exists() or not any(data_dir.iterdir())
    assert seconds < 240  # JAX start-up and one check; no process waited for a preparation


def test_prepared_dataset_trains(prepared, tmp_path):
    results = _two_processes(tmp_path / "run", (prepared, prepared), timeout=600)
    for code, output in results:
        assert code == 0, output[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "3").is_dir()


def test_dataset_missing_on_one_host_stops_both(prepared, tmp_path):
    results = _two_processes(tmp_path / "run", (prepared, tmp_path / "empty"))
    assert [code for code, _ in results] == [1, 1], results[0][1][-2000:] + results[1][1][-2000:]
    assert "process(es) [1] do not see the datasets" in results[0][1]
    assert "prepare them first, in one process: python -m speecheq_jax.prep.prepare" in results[1][1]


@pytest.mark.unit
def test_one_process_prepares_as_before(monkeypatch, tmp_path):
    data = load_config_module("demo").get_config("").data
    prepared = []
    monkeypatch.setattr(multihost, "prepare_all", prepared.append)
    multihost.prepare_or_refuse(data)
    assert prepared == [data]


@pytest.mark.unit
def test_prepare_commands_name_the_missing_datasets_with_their_options(tmp_path):
    data = load_config_module("demo").get_config("").data
    data.data_dir, data.strict = str(tmp_path), True
    [command] = multihost.prepare_commands(data)
    assert shlex.split(command) == ["python", "-m", "speecheq_jax.prep.prepare", "--corpus", "seqd_synth",
                                    "--data_dir", str(tmp_path), "--synth",
                                    '{"langs": ["cmn", "eng"], "num": 2000, "seed": 0}', "--strict"]
