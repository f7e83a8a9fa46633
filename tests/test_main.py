"""The entry point's command line: config mistakes are one clear line, not a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).parents[1]


def _main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "speecheq_jax.main", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, expected", [
    (("--config.train.lrr=3",), "config error: unknown config key 'train.lrr' (in --config.train.lrr=3)."),
    (("--config.optm.lr=1",), "config error: unknown config key 'optm.lr' (in --config.optm.lr=1). Did you mean \"optim\"?"),
    (("--config.train.num_steps=abc",), "config error: IllegalFlagValueError: flag --config.train.num_steps=abc"),
    (("--config", "configs/nope.py"), "config error"),
])
def test_config_mistakes_are_one_line(args, expected, tmp_path):
    config = () if "--config" in args else ("--config", "configs/demo.py")
    result = _main(*config, *args, "--workdir", str(tmp_path))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_arg_names_the_known_ones(tmp_path):
    result = _main("--config", "configs/demo.py:sise=S", "--workdir", str(tmp_path))
    assert result.returncode != 0 and "'sise' is unknown; known: ['size', 'steps']" in result.stderr
