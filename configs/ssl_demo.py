"""SSL demo: the SSL feature route end to end on SEQD-synth, with a tiny RANDOM-weight encoder made on the spot.

  python -m speecheq_jax.main --config configs/ssl_demo.py --workdir runs/ssl_demo

It checks that every piece of the route connects (a wav2vec 2.0-style checkpoint written without
torch, hidden states prepared into their own dataset beside the log-mel one, the layer-weighted
front end, the conformer and its four heads, evaluation, prediction, export). It is NOT an accuracy
claim: the encoder's weights are random (2 layers x 64 dims), so its states carry no learned speech
knowledge. Point `--config.data.ssl.checkpoint` at a real checkpoint (and unset
`--config.data.ssl.random_seed`) for that. Variants: `:steps=N`, `:dtype=float32` (the stored precision).
"""

from speecheq_jax.run_config import base_config, parse_arg, use_ssl_features


def get_config(arg: str | None = None):
    arg = parse_arg(arg, steps="100", dtype="float16", num="300")
    config = base_config("tiny")
    config.name = "ssl_demo"
    config.data.corpora = [{"name": "seqd_synth", "root": None, "fold": None, "protocol": None, "weight": 1.0}]
    config.data.synth = {"num": int(arg.num), "seed": 0, "langs": ("cmn", "eng")}
    # Every hidden state of the random encoder, written into this directory on first use; buckets
    # (96, ..., 384 frames at 50 a second) are the log-mel defaults halved.
    use_ssl_features(config, "~/speecheq_data/ssl_demo_checkpoint", dtype=arg.dtype, random_seed=0)
    config.data.batch_size = 16
    config.tasks.weights.phoneme = 3.0
    config.optim.lr = 2e-3
    config.optim.warmup_steps = 20
    config.train.num_steps = int(arg.steps)
    config.train.log_every = 10
    config.train.eval_every = 50
    config.train.checkpoint_every = 50
    return config
