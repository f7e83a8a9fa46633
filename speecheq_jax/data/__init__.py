"""Data: corpus readers, SEQD-synth, g2p, features, TFDS builders, the Grain pipeline."""
