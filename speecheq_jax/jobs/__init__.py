"""The jobs of the command line, each joining the training and evaluation packages.

    train.py     `train_and_evaluate`: prepare data, train, validate, checkpoint, report
    evaluate.py  `restore_for_eval`, `evaluate_split`, `evaluate_checkpoint` (`--mode evaluate`)
    predict.py   `predict`, `predict_files` on raw audio with JAX (`--mode predict`)
    export.py    `export_run`: checkpoint -> ONNX, StableHLO and model card (`--mode export`)

Layering (tests/test_layering.py): `app` may import every other part of the
package; `train` and `eval` never import each other nor `app`; `model` imports
none of the three.
"""
