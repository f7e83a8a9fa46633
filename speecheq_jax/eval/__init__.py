"""Evaluation: metrics over gathered predictions, CTC decoding, reports and plots.

Modules are imported by name (`from speecheq_jax.eval import metrics`); only
`report` needs matplotlib, and the training loop imports it because it writes
the report at the end of every run.
"""
