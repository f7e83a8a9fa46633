"""The model card as Markdown: what the model is, what it was trained on, how well it did, how to use it."""

from __future__ import annotations

from typing import Any

from speecheq_jax import markdown
from speecheq_jax.heads import head_specs


def _metric_titles(heads: list[str]) -> list[tuple[str, str]]:
    """(title, metric key) of the card's test metrics: EQ, then each trained head's headline metrics."""
    return [("EQ", "eq")] + [(column.title or column.key, column.key)
                             for spec in head_specs(heads) for column in spec.headline_columns]


def _longest_seconds(onnx: dict[str, Any], features: dict[str, Any]) -> float:
    """The longest audio an ONNX file takes: its length in 10 ms frames, or in samples on the SSL route."""
    longest = max(map(int, onnx["files"]))
    if "route" in features:
        return longest / features["sample_rate"]
    return longest * features["hop_length"] / features["sample_rate"]


def _ssl_lines(features: dict[str, Any]) -> list[str]:
    """The card's SSL encoder paragraph (nothing on the log-mel route)."""
    if "route" not in features:
        return []
    encoder = features["encoder"]
    return [f"Input: hidden states {features['layers']} of a {encoder['arch']} encoder ({encoder['num_hidden_layers']} "
            f"layers, d={encoder['hidden_size']}, feature norm {encoder['feat_extract_norm']}; weights sha256 "
            f"`{features['weights_sha256']}`, read from `{features['checkpoint']}`), stored as {features['dtype']}, "
            "combined by a learned softmax-weighted sum.", ""]


def render_markdown(card: dict[str, Any]) -> str:
    """Markdown of an export's model card (the card plus its `export` section)."""
    export, model = card["export"], card["config"]["model"]
    features = card["features"]
    lines = [f"# SpeechEQ model card: {card['name']} (checkpoint step {export['step']})", ""]
    lines += [
        "## Intended use and limits", "",
        "Speech emotion recognition research: per utterance, an emotion category with probabilities, an emotion "
        "intensity in [0, 1] and a gender guess, plus a greedy phoneme transcription.",
        "",
        "- The model knows only the corpora below; accuracy on other speakers, languages, microphones or acted "
        "versus spontaneous speech is unknown until measured.",
        "- Emotion labels are categorical simplifications of a continuous, culture-dependent phenomenon; do not use "
        "the predictions for decisions about people (hiring, health, policing, surveillance).",
        "- Gender is a binary F/M guess from the voice, learned from corpus metadata, not a person's gender.",
        f"- Audio shorter than {features['min_seconds']} s is refused; the ONNX files take at most "
        f"{_longest_seconds(export['onnx'], features):.2f} s.",
        "",
        "## Model", "",
        f"Conformer encoder `{model['size']}` ({model['num_layers']} layers, d={model['d_model']}, "
        f"{model['num_heads']} heads), heads: {', '.join(model['heads'])}.",
        "",
        f"Labels: {', '.join(card['labels']['categories'])}. Phoneme vocabulary: {len(card['phonemes'])} tokens.",
        "",
        *_ssl_lines(features),
        "## Training data", "",
    ]
    rows = [[d["corpus"], d["protocol"], d["fold"], *(str(d["examples"][s]) for s in ("train", "valid", "test")),
             "yes" if d["speaker_dependent"] else "no"] for d in card["training_data"]]
    lines += markdown.table(["corpus", "protocol", "fold", "train", "valid", "test", "speaker-dependent"], rows)
    lines += ["", "## Test metrics", ""]
    metrics = export.get("test_metrics")
    if metrics:
        lines += markdown.table(["metric", "value"], [[name, f"{metrics[key]:.4f}"]
                                              for name, key in _metric_titles(model["heads"]) if key in metrics])
    else:
        lines.append(f"Not evaluated at step {export['step']}: run `--mode evaluate --checkpoint {export['step']}`.")
    onnx = export["onnx"]
    if "route" in features:
        lines += ["", "## Use", "", "```bash",
                  "python -m speecheq_jax.predict --model EXPORT_DIR --input clip.wav --output predictions.jsonl",
                  "```", "",
                  f"ONNX (`{'`, `'.join(onnx['files'].values())}`), the SSL encoder inside: inputs `waveform` float32 "
                  "[B, N] (16 kHz mono samples, zero on padding) and `sample_mask` bool [B, N]; B is free, N is fixed "
                  f"per file. Outputs: {', '.join(onnx['outputs'])}."]
        return "\n".join(lines) + "\n"
    lines += [
        "", "## Use", "",
        "```bash",
        "python -m speecheq_jax.predict --model EXPORT_DIR --input clip.wav more_clips/ --output predictions.jsonl",
        "```", "",
        f"ONNX (`{'`, `'.join(onnx['files'].values())}`): inputs `logmel` float32 [B, T, 80] (log-mel of "
        f"features/logmel.py, CMVN-normalised with `cmvn.pooled` of model_card.json, zero on padding) and "
        f"`frame_mask` bool [B, T]; B is free, T is fixed per file. Outputs: {', '.join(onnx['outputs'])}.",
        "",
        f"StableHLO (`{export['stablehlo']['file']}`): the same function with any B and any T multiple of 4; "
        "`jax.export.deserialize(open(path, 'rb').read()).call(logmel, frame_mask)`.",
    ]
    return "\n".join(lines) + "\n"
