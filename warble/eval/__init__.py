"""Evaluation: retrieval metrics and runs (search), and later language modelling, TweetEval and safety gates."""
