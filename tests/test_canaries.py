"""Canaries planted in the training token shards: counts, determinism, canaries.json, never in the corpus."""

import argparse
import json
import shutil
from collections import Counter

import pyarrow.parquet as pq
import pytest

from warble.errors import ConfigError, InputError
from warble.tokenizer import TokenShards, Tokenizer, tokenize_corpus
from warble.tokenizer.canaries import (CANARY_SHARD, CanaryConfig, add_canary_arguments, all_secrets,
                                       canaries_for_run, canary_config_from_args, iter_train_texts, load_canaries,
                                       make_canaries, parse_spec, random_secrets, tokens_dir_for_run)

CFG = CanaryConfig(counts=(1, 10, 100), per_count=2, seed=3, digits=4)


@pytest.fixture(scope="module")
def planted(corpus_dir, tokens_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("canary_tokens") / "tokens"
    summary = tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", out, workers=1, progress=False, canaries=CFG)
    return out, summary


def _docs(tokens_dir, split="train"):
    shards = TokenShards(tokens_dir, split)
    return [shards.span(int(shards.bounds[i]), int(shards.bounds[i + 1] - shards.bounds[i])).tolist()
            for i in range(len(shards))]


def test_make_canaries_is_deterministic_and_distinct():
    a, b = make_canaries(CFG), make_canaries(CFG)
    assert a == b
    assert a != make_canaries(CanaryConfig((1, 10, 100), 2, seed=4, digits=4))
    assert len(a) == 6 and Counter(c.repetitions for c in a) == {1: 2, 10: 2, 100: 2}
    assert len({c.id for c in a}) == 6 and len({c.secret for c in a}) == 6
    c = a[0]
    assert c.text == f"the secret code of {c.id} is {c.secret}"
    assert len(c.secret.split()) == 4 and all(d.isdigit() and len(d) == 1 for d in c.secret.split())
    assert c.space_size == 10_000


def test_secret_spaces():
    assert all_secrets(2)[:3] == ["0 0", "0 1", "0 2"] and len(all_secrets(2)) == 100 and all_secrets(2)[-1] == "9 9"
    s = random_secrets(6, 50, seed=1)
    assert s == random_secrets(6, 50, seed=1) and len(set(s)) == 50 and all(len(x.split()) == 6 for x in s)


def test_shards_hold_each_canary_its_repetitions(planted, tokens_dir):
    out, summary = planted
    tok = Tokenizer.load(out / "tokenizer")
    docs = Counter(tuple(d) for d in _docs(out))
    for c in make_canaries(CFG):
        assert docs[tuple(tok.encode_post(c.text))] == c.repetitions
    meta = json.loads((out / "meta.json").read_text())
    plain = json.loads((tokens_dir / "meta.json").read_text())
    assert meta["splits"]["train"]["shards"] == plain["splits"]["train"]["shards"] + [CANARY_SHARD]
    assert meta["splits"]["train"]["docs"] == plain["splits"]["train"]["docs"] + 222
    assert meta["canaries"]["docs"] == 222 and summary["canaries"]["docs"] == 222
    assert meta["splits"]["validation"] == plain["splits"]["validation"]  # validation is untouched
    # the corpus shards are byte-identical to a run without canaries
    for name in plain["splits"]["train"]["shards"]:
        assert (out / "train" / f"{name}.bin").read_bytes() == (tokens_dir / "train" / f"{name}.bin").read_bytes()


def test_canaries_json(planted):
    out, _ = planted
    data = json.loads((out / "canaries.json").read_text())
    assert data["space_size"] == 10_000 and data["config"]["counts"] == [1, 10, 100]
    assert [c["text"] for c in data["canaries"]] == [c.text for c in make_canaries(CFG)]
    assert load_canaries(out) == make_canaries(CFG)


def test_planting_is_deterministic(planted, corpus_dir, tokens_dir, tmp_path):
    out, _ = planted
    again = tmp_path / "again"
    tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", again, workers=1, progress=False, canaries="1,10,100")
    assert load_canaries(again) == make_canaries(CanaryConfig((1, 10, 100)))
    tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", again, workers=1, progress=False, canaries=CFG)
    for name in ("canaries.bin", "canaries.idx.npy"):
        assert (again / "train" / name).read_bytes() == (out / "train" / name).read_bytes()
    assert (again / "canaries.json").read_bytes() == (out / "canaries.json").read_bytes()
    # tokenizing again without canaries removes them
    tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", again, workers=1, progress=False)
    assert load_canaries(again) is None and not (again / "train" / "canaries.bin").exists()
    assert CANARY_SHARD not in json.loads((again / "meta.json").read_text())["splits"]["train"]["shards"]


def test_resume_refuses_other_canaries(planted, corpus_dir, tokens_dir, tmp_path):
    out = tmp_path / "tokens"
    shutil.copytree(planted[0], out)
    with pytest.raises(InputError, match="without --resume"):
        tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", out, workers=1, progress=False, resume=True)
    tokenize_corpus(corpus_dir, tokens_dir.parent / "tok", out, workers=1, progress=False, resume=True, canaries=CFG)
    assert load_canaries(out) == make_canaries(CFG)


def test_canaries_never_reach_the_corpus_or_decoded_training_text(planted, corpus_dir):
    out, _ = planted
    texts = [t for f in sorted((corpus_dir / "corpus").rglob("*.parquet"))
             for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]
    decoded = list(iter_train_texts(out))
    assert len(decoded) == json.loads((out / "meta.json").read_text())["splits"]["train"]["docs"] - 222
    for c in make_canaries(CFG):
        assert not any(c.id in t for t in texts) and not any(c.id in t for t in decoded)


def test_runs_find_their_canaries(planted, run_dir, tmp_path):
    assert canaries_for_run(run_dir) is None  # the session's run trained without canaries
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(f'data = "{planted[0]}"\npreset = "test"\n')
    assert tokens_dir_for_run(run) == planted[0]
    assert canaries_for_run(run) == make_canaries(CFG)
    (run / "config.toml").write_text('data = "no/such/tokens"\n')
    with pytest.raises(InputError, match="not a token directory"):
        canaries_for_run(run)
    (run / "config.toml").unlink()
    with pytest.raises(InputError, match="config.toml"):
        canaries_for_run(run)
    with pytest.raises(InputError, match="no such run"):
        canaries_for_run(tmp_path / "missing")


def test_cli_flags():
    p = argparse.ArgumentParser()
    add_canary_arguments(p)
    assert canary_config_from_args(p.parse_args([])) is None
    cfg = canary_config_from_args(p.parse_args(["--canaries", "1,10,100", "--canaries-per-count", "3",
                                                "--canary-seed", "9", "--canary-digits", "5"]))
    assert cfg == CanaryConfig((1, 10, 100), 3, 9, 5)
    assert parse_spec(" 1, 5 ") == (1, 5)
    for bad in ("a,b", ",", "0,1"):
        with pytest.raises(ConfigError):
            CanaryConfig(parse_spec(bad))
    with pytest.raises(ConfigError):
        CanaryConfig((1, 1))
    with pytest.raises(ConfigError):
        CanaryConfig((1,), per_count=0)
    with pytest.raises(ConfigError):
        CanaryConfig((1,), digits=0)
