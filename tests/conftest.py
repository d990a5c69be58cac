import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """The shared datasets beside the project root (or WARBLE_SHARED_DATA)."""
    return Path(os.environ.get("WARBLE_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_data()
    if not d.is_dir():
        pytest.skip(f"shared datasets not found at {d}")
    return d


@pytest.fixture(scope="session")
def synth_raw(tmp_path_factory) -> Path:
    """A small simulated dump shared by the end-to-end tests (2,000 posts, twitter_v2)."""
    from warble.data.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "raw"
    synthesize(out, 2000, seed=7, malformed_rate=0.01, progress=False)
    return out


@pytest.fixture(scope="session")
def corpus_dir(synth_raw, tmp_path_factory) -> Path:
    """The small synthetic corpus, ingested (shared by the tokenizer and training tests)."""
    from warble.data.pipeline import IngestConfig, run_ingest

    out = tmp_path_factory.mktemp("corpus") / "corpus"
    run_ingest([str(synth_raw)], out, IngestConfig(workers=1), progress=False, log=lambda *a: None)
    return out


@pytest.fixture(scope="session")
def tokens_dir(corpus_dir, tmp_path_factory) -> Path:
    """Token shards of the small corpus with a 1,024-token BPE (fast to train)."""
    from warble.tokenizer import tokenize_corpus, train_tokenizer

    root = tmp_path_factory.mktemp("tokens")
    train_tokenizer(corpus_dir, root / "tok", vocab_size=1024, progress=False)
    tokenize_corpus(corpus_dir, root / "tok", root / "tokens", workers=1, progress=False)
    return root / "tokens"


@pytest.fixture(scope="session")
def run_dir(tokens_dir, tmp_path_factory) -> Path:
    """A small trained run (test preset, 40 steps on the small corpus): what generate/serve/export read."""
    from warble.train.config import TrainConfig
    from warble.train.loop import train
    from warble.train.schedule import ScheduleConfig

    run = tmp_path_factory.mktemp("run") / "run"
    train(TrainConfig(data=str(tokens_dir), preset="test", seq_len=128, global_batch=8, steps=40, eval_every=0,
                      log_every=10, threads=1, schedule=ScheduleConfig(warmup_steps=5)), run)
    return run
