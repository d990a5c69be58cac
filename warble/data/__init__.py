"""Stage 1: raw post dumps -> corpus. Readers, cleaning stages, dedup, compliance, the ingest pipeline, synth."""
