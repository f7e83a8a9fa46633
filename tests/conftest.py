"""Test set-up: 8 fake CPU devices and one persistent compilation cache, set before jax is imported anywhere.

The cache is a fresh directory per session (or the one `JAX_COMPILATION_CACHE_DIR` names; an empty value turns
it off). Many tests compile the same programs (the tiny run's train and eval steps, every resumed or evaluated
run, every crossval fold), in this process and in the jobs they start, which inherit the variable: each program
is compiled once per session. Tests that need an empty cache (the kill during compilation) set their own.
"""

import atexit
import os
import shutil
import tempfile

os.environ["XLA_FLAGS"] = " ".join(
    f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f
) + " --xla_force_host_platform_device_count=8"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="speecheq-tests-xla-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
