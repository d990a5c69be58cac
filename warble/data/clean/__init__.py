"""Per-record cleaning stages, in the order ingest runs them: normalize, placeholders, pii, langid, quality.

Each module holds a config dataclass, a stage class (a function over Arrow record batches, see
warble.data.stages) and the pure text function behind it, which search and ads reuse on single strings.
"""
