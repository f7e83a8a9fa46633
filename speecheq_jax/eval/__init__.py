"""Evaluation: metrics over gathered predictions, CTC decoding, reports and plots.

Modules are imported by name (`from speecheq_jax.eval import metrics`) so that
the training loop, which computes metrics, never pays for matplotlib, which
only `report` needs.
"""
