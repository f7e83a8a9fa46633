"""Speech regions cut into model windows, and windows packed into batches by length.

The model was trained on utterances of at most `max(card['buckets'])` log-mel
frames: attention over a longer input is both outside its training and
quadratic in memory (a 2-minute file padded to 12,096 frames took 17.4 GB).
So a region longer than that is cut into the fewest windows that fit, of
equal length (a region of 1.1 windows gives two of 0.55, never one of 1 and a
stub). Batches hold windows of one padded length (the smallest allowed length
that holds them), sorted by length, at most `cap` rows: a file of one window
is a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence

from speecheq_jax.features import logmel


def max_window_samples(max_frames: int) -> int:
    """The longest span (16 kHz samples) whose centred log-mel has at most `max_frames` frames."""
    return (max_frames - 1) * logmel.HOP_LENGTH


def cut(regions: Sequence[tuple[int, int]], max_samples: int, min_samples: int) -> list[tuple[int, int]]:
    """Regions [(start, stop)] split into equal windows of at most `max_samples`; windows under `min_samples` dropped."""
    windows = []
    for start, stop in regions:
        parts = -(-(stop - start) // max_samples)
        edges = [start + (stop - start) * k // parts for k in range(parts + 1)]
        windows.extend((a, b) for a, b in zip(edges[:-1], edges[1:]) if b - a >= min_samples)
    return windows


def pack(frames: Sequence[int], lengths: Sequence[int], cap: int) -> list[tuple[int, list[int]]]:
    """Batches [(padded length, item indices)] of items with `frames` log-mel frames each.

    Args:
      frames: frames per item, each <= max(lengths).
      lengths: the padded lengths the model runs (buckets, ONNX input lengths).
      cap: most rows per batch.
    """
    by_length: dict[int, list[int]] = {}
    for item in sorted(range(len(frames)), key=lambda i: frames[i]):
        by_length.setdefault(min(n for n in lengths if n >= frames[item]), []).append(item)
    return [(length, members[i : i + cap]) for length, members in sorted(by_length.items())
            for i in range(0, len(members), cap)]
