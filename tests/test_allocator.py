"""The host allocator choice: LD_PRELOAD rewriting and the one-time restart under tcmalloc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from speecheq_jax import allocator

needs_tcmalloc = pytest.mark.skipif(not allocator.tcmalloc_available(), reason="libtcmalloc_minimal.so.4 not installed")


@needs_tcmalloc
def test_with_tcmalloc_prepends_once_and_keeps_other_preloads():
    env = allocator.with_tcmalloc({"LD_PRELOAD": "libfoo.so", "PATH": "/bin"})
    assert env["LD_PRELOAD"] == f"{allocator.TCMALLOC}:libfoo.so" and env["PATH"] == "/bin"
    assert allocator.with_tcmalloc(env) == env  # already there: unchanged
    assert allocator.with_tcmalloc({})["LD_PRELOAD"] == allocator.TCMALLOC


def test_with_tcmalloc_respects_the_switch_and_a_missing_library(monkeypatch):
    assert "LD_PRELOAD" not in allocator.with_tcmalloc({allocator.SWITCH: "system"})
    monkeypatch.setattr(allocator, "tcmalloc_available", lambda: False)
    assert allocator.with_tcmalloc({"LD_PRELOAD": "libfoo.so"}) == {"LD_PRELOAD": "libfoo.so"}


_PROBE = """
import os, sys
from speecheq_jax import allocator
print("before", flush=True)
allocator.reexec_with_tcmalloc()
maps = open("/proc/self/maps").read()
print("pid", os.getpid(), "loaded", allocator.TCMALLOC in maps, "args", sys.argv[1:], allocator.describe())
"""


def _probe(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", _PROBE, "a", "--b=1"], env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout


@needs_tcmalloc
def test_restart_loads_tcmalloc_once_with_the_same_arguments():
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = _probe(env)
    assert out.count("before") == 2, out  # the first image printed, then restarted exactly once
    assert "loaded True" in out and "args ['a', '--b=1']" in out and "host allocator: tcmalloc" in out


def test_switch_system_keeps_glibc():
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"} | {allocator.SWITCH: "system"}
    out = _probe(env)
    assert out.count("before") == 1 and "loaded False" in out and "SPEECHEQ_MALLOC=system" in out
