"""The jobs of the command line, each joining the training and evaluation packages.

    train_and_evaluate.py   `train_and_evaluate`: prepare data, train, validate, checkpoint, report
    evaluate_checkpoint.py  `restore_for_eval`, `evaluate_split`, `evaluate_checkpoint` (`--mode evaluate`)
    predict_files.py        `predict`, `predict_files` on raw audio with JAX (`--mode predict`)
    export_run.py           `export_run`: checkpoint -> ONNX, StableHLO and model card (`--mode export`)

Layering (tests/test_layering.py): `jobs` may import every other part of the
package; `train` and `eval` never import each other nor `jobs`; `model` imports
none of the three.
"""
