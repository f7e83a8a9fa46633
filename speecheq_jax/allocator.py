"""Host memory allocator: run under tcmalloc instead of glibc malloc when it is installed.

Why: XLA:CPU allocates each step's temporaries with malloc, tens to hundreds of MiB apiece at
size S. glibc serves every block above its mmap threshold (32 MiB at most) with a fresh `mmap` and
returns it with `munmap` on free, so each step faults its temporaries in again page by page,
in the kernel, while the other core waits. tcmalloc keeps freed pages for the next step. Measured
on the 2-core reference machine: `bench/bench_model.py --sizes S` forward+backward 2,060 ms under
glibc, 1,295 ms under tcmalloc; the main job (docs/benchmarks.md) spent 181 s of CPU in the kernel under
glibc, 47 s under tcmalloc. glibc's own knobs (`MALLOC_MMAP_MAX_`, `MALLOC_TRIM_THRESHOLD_`, one
arena) recovered less in our trials and put every thread's allocations behind one lock.

The library is `libtcmalloc_minimal.so.4` (Debian/Ubuntu package `libtcmalloc-minimal4`, which
`launch/local.sh` installs). It must be preloaded before the process starts, so an entry point
calls `reexec_with_tcmalloc()` first thing: when the library is present and not yet loaded, the
process re-executes itself (same pid, same arguments) with it in `LD_PRELOAD`. Without the
library, or with `SPEECHEQ_MALLOC=system`, nothing happens and glibc malloc is used.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Mapping

TCMALLOC = "libtcmalloc_minimal.so.4"
SWITCH = "SPEECHEQ_MALLOC"  # "system": keep glibc malloc


def tcmalloc_available() -> bool:
    """Whether the dynamic loader can find tcmalloc (ldconfig's cache names it)."""
    return ctypes.util.find_library("tcmalloc_minimal") is not None


def preloaded(env: Mapping[str, str]) -> bool:
    """Whether a process started with `env` runs under tcmalloc."""
    return TCMALLOC in env.get("LD_PRELOAD", "")


def with_tcmalloc(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` with tcmalloc first in LD_PRELOAD (unchanged if absent, disabled or already there)."""
    env = dict(env)
    preload = env.get("LD_PRELOAD", "")
    if env.get(SWITCH) == "system" or preloaded(env) or not tcmalloc_available():
        return env
    env["LD_PRELOAD"] = f"{TCMALLOC}:{preload}" if preload else TCMALLOC
    return env


def reexec_with_tcmalloc() -> None:
    """Re-executes this process under tcmalloc when that changes anything; otherwise returns.

    Call it before importing JAX: the process image is replaced, so work done before is lost.
    `sys.orig_argv` keeps the interpreter's own options (`-m module`, `-X ...`).
    """
    env = with_tcmalloc(os.environ)
    if env.get("LD_PRELOAD") != os.environ.get("LD_PRELOAD"):
        sys.stdout.flush(), sys.stderr.flush()
        os.execve(sys.executable, sys.orig_argv, env)


def describe() -> str:
    """One line for the run log: which allocator this process runs with."""
    if preloaded(os.environ):
        return "host allocator: tcmalloc"
    if os.environ.get(SWITCH) == "system":
        return "host allocator: glibc malloc (SPEECHEQ_MALLOC=system)"
    return (f"host allocator: glibc malloc; install {TCMALLOC} (apt install libtcmalloc-minimal4) "
            "for faster CPU steps")
