"""SEQD-synth at full size: a larger generated corpus and a conformer-S.

  python -m speecheq_jax.main --config configs/seqd_synth.py:size=S --workdir runs/seqd
"""

from speecheq_jax.run_config import base_config, parse_arg


def get_config(arg: str | None = None):
    arg = parse_arg(arg, size="S", num="20000")
    config = base_config(arg.size)
    config.name = f"seqd_synth-{arg.size}"
    config.data.corpora = [{"name": "seqd_synth", "root": None, "fold": None, "protocol": None, "weight": 1.0}]
    config.data.synth = {"num": int(arg.num), "seed": 0, "langs": ("cmn", "eng")}
    config.data.batch_size = 64
    config.train.num_steps = 30_000
    config.train.eval_every = 2000
    return config
