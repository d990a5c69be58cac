"""Every CLI command end to end, as a user runs it: the console script in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

WARBLE = str(Path(sys.executable).parent / "warble")


def run(*args, cwd=None, check=True):
    p = subprocess.run([WARBLE, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"warble {' '.join(map(str, args))} exited {p.returncode}\n{p.stderr[-3000:]}")
    return p


@pytest.mark.parametrize("cmd", [[], ["synth"], ["ingest"], ["quickstart"]])
def test_help_for_every_command(cmd):
    p = run(*cmd, "--help")
    assert "usage: warble" in p.stdout


def test_synth_then_ingest_acceptance(tmp_path):
    run("synth", "--posts", 1500, "--out", tmp_path / "raw", "--no-progress")
    assert sorted(p.name for p in (tmp_path / "raw").glob("*.jsonl"))
    first = json.loads((tmp_path / "raw").glob("*.jsonl").__next__().open().readline())
    assert "data" in first and "includes" in first, "twitter_v2 responses by default"
    p = run("ingest", tmp_path / "raw", "--out", tmp_path / "OUT", "--json", "--no-progress")
    m = json.loads(p.stdout)
    assert m["read"] == m["kept"] + m["quarantined"] + sum(m["filtered"].values())
    assert ds.dataset(tmp_path / "OUT" / "corpus", format="parquet").count_rows() == m["kept"]
    assert (tmp_path / "OUT" / "quarantine").is_dir() and (tmp_path / "OUT" / "config.toml").exists()

    # --apply-deletions on the existing corpus
    first_id = ds.dataset(tmp_path / "OUT" / "corpus", format="parquet").head(1, columns=["id"]).column("id")[0]
    (tmp_path / "del.txt").write_text(f"{first_id}\n")
    p = run("ingest", "--apply-deletions", "--deletions", tmp_path / "del.txt", "--out", tmp_path / "OUT", "--json")
    m2 = json.loads(p.stdout)
    assert m2["kept"] == m["kept"] - 1 and m2["filtered"]["compliance.deleted"] >= 1


def test_synth_warble_format(tmp_path):
    run("synth", "--posts", 1000, "--out", tmp_path / "raw", "--format", "warble", "--no-progress")
    line = next((tmp_path / "raw").glob("*.jsonl")).open().readline()
    assert {"id", "author_id", "text", "created_at"} <= set(json.loads(line))


def test_ingest_config_file_and_flags(tmp_path, synth_raw):
    (tmp_path / "c.toml").write_text('validation_fraction = 0.5\n[stages]\nlangid = false\n')
    run("ingest", synth_raw, "--out", tmp_path / "o", "--config", tmp_path / "c.toml", "--no-dedup",
        "--mentions", "keep", "--no-progress")
    resolved = (tmp_path / "o" / "config.toml").read_text()
    assert "validation_fraction = 0.5" in resolved and "langid = false" in resolved and "dedup = false" in resolved
    assert 'mentions = "keep"' in resolved


@pytest.mark.parametrize("args,msg", [
    (["ingest", "/nonexistent/dump", "--out", "{tmp}/o"], "does not exist"),
    (["ingest", "--out", "{tmp}/o"], "at least one INPUT"),
    (["ingest", "{tmp}", "--out", "{tmp}/o", "--config", "{tmp}/missing.toml"], "does not exist"),
    (["ingest", "--apply-deletions", "--out", "{tmp}/o"], "needs --opt-out"),
    (["ingest", "--apply-deletions", "--deletions", "{tmp}/x.txt", "--out", "{tmp}/empty"], "not a Warble corpus"),
    (["synth", "--posts", "0", "--out", "{tmp}/s"], "at least 1"),
])
def test_bad_input_is_a_clear_error(tmp_path, args, msg):
    (tmp_path / "x.txt").write_text("1\n")
    (tmp_path / "empty").mkdir()
    p = run(*[a.format(tmp=tmp_path) for a in args], check=False)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert "error:" in p.stderr and msg in p.stderr


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path):
    p = run("quickstart", "--posts", 2000, "--preset", "test", "--train-steps", 4, "--out", tmp_path / "qs",
            "--no-progress")
    report = (tmp_path / "qs" / "report.md").read_text()
    assert "# Warble quickstart report" in report and "| read | kept |" in report
    assert str(tmp_path / "qs" / "report.md") in p.stdout


def test_ingest_shared_pheme_and_tweeteval(shared, tmp_path):
    pheme = sorted(str(p) for p in (shared / "pheme").glob("*.json"))
    p = run("ingest", *pheme, shared / "tweeteval" / "emoji" / "train_text.txt", "--out", tmp_path / "pheme",
            "--json", "--no-progress")
    m = json.loads(p.stdout)
    assert m["formats"] == {"twitter_v1": len(pheme), "text": 1}
    assert m["read"] == m["kept"] + m["quarantined"] + sum(m["filtered"].values())
    assert m["kept"] > 30_000
    t = ds.dataset(tmp_path / "pheme" / "corpus", format="parquet").to_table(columns=["origin", "labels"])
    assert any(o.startswith("twitter_v1:") for o in t.column("origin").to_pylist())
