"""The one error a user's checkpoint directory can cause."""

from __future__ import annotations

from speecheq_jax.errors import DataError


class CheckpointError(DataError):
    """A checkpoint directory whose config.json or tensors do not describe a supported encoder.

    Its message is one line: the directory, then what is missing, extra or mis-shaped (the first few
    names and the counts), or which config field is unsupported.
    """
