"""Stage 2: the tokenizer (byte-level BPE with Warble's special tokens) and the token shards made with it."""

from warble.tokenizer.bpe import train_tokenizer
from warble.tokenizer.shards import TokenShards
from warble.tokenizer.tokenize import tokenize_corpus
from warble.tokenizer.tokenizer import Tokenizer

__all__ = ["TokenShards", "Tokenizer", "tokenize_corpus", "train_tokenizer"]
