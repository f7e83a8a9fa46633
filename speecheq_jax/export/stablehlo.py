"""A StableHLO artifact for JAX serving: `jax.export` with a symbolic batch and time axis.

    exported = load_stablehlo("export/model.stablehlo")
    outputs = exported.call(logmel, frame_mask)   # same contract as forward.make_forward

The artifact is `jax.export.Exported.serialize()`: shapes (B, 4*T, 80) and
(B, 4*T), any B and any T, parameters baked in; it runs on the platforms it
was exported for (`EXPORT_PLATFORMS`) with any later jaxlib that reads this
serialization version.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp

from speecheq_jax.export.forward import Forward
from speecheq_jax.frames import NUM_MELS

EXPORT_PLATFORMS: tuple[str, ...] = ("cpu", "cuda", "tpu")


def export_stablehlo(forward: Forward, path: Path) -> jax.export.Exported:
    """Serializes `forward` with dims (B, 4*T) to `path`; returns the Exported."""
    batch, frames = jax.export.symbolic_shape("B, 4*T")
    exported = jax.export.export(jax.jit(forward), platforms=EXPORT_PLATFORMS)(
        jax.ShapeDtypeStruct((batch, frames, NUM_MELS), jnp.float32), jax.ShapeDtypeStruct((batch, frames), jnp.bool_))
    path.write_bytes(exported.serialize())
    return exported


def load_stablehlo(path: str | Path) -> jax.export.Exported:
    """The Exported saved by `export_stablehlo`; call it with `.call(logmel, frame_mask)`."""
    return jax.export.deserialize(bytearray(Path(path).read_bytes()))
