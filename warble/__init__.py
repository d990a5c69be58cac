"""Warble: train a platform's own language model on its posts, and put it to work in search and ads."""

__version__ = "0.1.0"
