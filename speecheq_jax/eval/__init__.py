"""Evaluation: metrics over gathered predictions, reports and plots (greedy CTC
decoding belongs to the phoneme head: heads/ctc_decode.py).

Nothing here imports `speecheq_jax.train` or `speecheq_jax.jobs`: restoring a
checkpoint and running the eval step over a split is `speecheq_jax.jobs.evaluate_checkpoint`.
Modules are imported by name (`from speecheq_jax.eval import metrics`); only
`plots` (through `report`) needs matplotlib, and every training run imports it, because the
run's report and plots are written at its end.
"""
