"""Export a trained run for use outside this code base: `--mode export` writes `<workdir>/export/`.

    forward.py        the model in eval mode as a pure function of (log-mel, frame mask)
    onnx_model.py     ONNX files through jax2onnx, checked against JAX with onnxruntime
    stablehlo.py      a serialized `jax.export` artifact (StableHLO) for JAX serving
    card_markdown.py  the model card as readable Markdown

`speecheq_jax.jobs.export_run.export_run` ties them to a restored checkpoint.

Modules are imported by name: the ONNX predictor (speecheq_jax/predict.py)
must not pay for jax2onnx.
"""
