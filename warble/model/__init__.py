"""The decoder-only language model: `preset(name, vocab_size)` -> `ModelConfig` -> `Transformer`."""

from warble.model.config import PRESETS, ModelConfig, preset
from warble.model.model import Block, Transformer, hf_state_dict

__all__ = ["PRESETS", "Block", "ModelConfig", "Transformer", "hf_state_dict", "preset"]
