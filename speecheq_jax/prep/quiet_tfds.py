"""One progress bar per dataset preparation instead of TFDS's chatter.

TFDS's `download_and_prepare` (tensorflow-datasets 4.9.10) prints a bold
"Downloading and preparing dataset Unknown size ..." and "... Subsequent calls
will reuse this data." and opens three bars per split ("Generating splits",
"Generating <split> examples", "Shuffling ..."): with one split per speaker,
hundreds of lines around the project's own output. Inside `one_bar` the two
prints are off and of TFDS's bars only the one over splits is kept, renamed.
TFDS's INFO logging goes through absl and is filtered by the entry point.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

import tensorflow_datasets as tfds
from tqdm import tqdm

_SPLITS_BAR = "Generating splits..."


@contextlib.contextmanager
def one_bar(builder: tfds.core.DatasetBuilder, desc: str, progress: bool = True) -> Iterator[None]:
    """While `builder.download_and_prepare` runs: a single bar `desc` over its splits (none if not `progress`)."""

    def splits_bar_only(*args: Any, **kwargs: Any):
        if progress and kwargs.get("desc") == _SPLITS_BAR:
            return tqdm(*args, **{**kwargs, "desc": desc, "unit": "split", "leave": False})
        return tfds.core.utils.EmptyTqdm(*args, **kwargs)

    with (mock.patch.object(tfds.core.utils, "tqdm", splits_bar_only),
          mock.patch.object(builder, "_log_download_bytes", lambda: None),
          mock.patch.object(builder, "_log_download_done", lambda: None)):
        yield
