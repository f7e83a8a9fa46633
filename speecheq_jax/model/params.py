"""Parameter counts: the total, and a per-component table for logs, the bench and the docs.

Only `nnx.Param` leaves count (BatchNorm running moments and RNG state are not parameters).
The conformer blocks are stacked (one module whose parameters have a leading layer axis), so each
of their parts is one row summed over layers, and the table of a 16-layer model is as short as
that of a 2-layer one.
"""

from __future__ import annotations

import collections
import math

from flax import nnx

STACKED_LAYERS = "blocks"  # attribute name of the encoder's stacked (scanned) conformer blocks


def count_params(model: nnx.Module) -> int:
    """Number of trainable scalars (all nnx.Param leaves)."""
    return sum(math.prod(variable.shape) for _, variable in nnx.to_flat_state(nnx.state(model, nnx.Param)))


def params_by_component(model: nnx.Module, depth: int = 2) -> dict[str, int]:
    """Parameter counts keyed by the first `depth` module names of each parameter's path.

    The stacked `blocks` open one more level, so they show their parts:
    ("encoder", "blocks", "attention", "query", "kernel") counts under "encoder/blocks/attention",
    ("poolings", "gender", "hidden", "kernel") under "poolings/gender".
    """
    counts: dict[str, int] = collections.Counter()
    for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        names: list[str] = []
        budget = depth
        for part in path[:-1]:
            if budget == 0:
                break
            names.append(str(part))
            budget -= part != STACKED_LAYERS
        counts["/".join(names)] += math.prod(variable.shape)
    return dict(counts)


def parameter_table(model: nnx.Module, depth: int = 2) -> str:
    """A readable table: component, parameter count, share of the total; last row the total."""
    counts = params_by_component(model, depth)
    total = sum(counts.values())
    width = max(len(name) for name in [*counts, "total"])
    rows = [f"{'component':<{width}}  {'params':>12}  {'share':>6}"]
    rows += [f"{name:<{width}}  {n:>12,}  {n / total:>6.1%}" for name, n in sorted(counts.items())]
    rows.append(f"{'total':<{width}}  {total:>12,}  {1:>6.1%}")
    return "\n".join(rows)
