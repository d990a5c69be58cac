"""`warble ingest` end to end on the simulated platform: accounting, dedup, privacy, compliance, split, Ray."""

import json
import re
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from warble.data.compliance import ComplianceLists
from warble.data.pipeline import IngestConfig, apply_deletions, load_manifest, run_ingest
from warble.errors import InputError

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _corpus(out) -> pa.Table:
    return ds.dataset(out / "corpus", format="parquet").to_table()


def _truth(raw) -> pa.Table:
    return pq.read_table(raw / "_truth" / "posts.parquet")


@pytest.fixture(scope="module")
def ingested(synth_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("ingest") / "out"
    manifest = run_ingest([str(synth_raw)], out, IngestConfig(workers=2), progress=False, log=lambda *a: None)
    return out, manifest


def test_accounting_invariant(ingested, synth_raw):
    out, m = ingested
    assert m["read"] == m["kept"] + m["quarantined"] + sum(m["filtered"].values())
    assert m["kept"] == _corpus(out).num_rows == sum(m["files"].values())
    assert m["splits"]["train"] + m["splits"]["validation"] == m["kept"]
    assert json.loads((out / "manifest.json").read_text()) == m
    assert (out / "config.toml").exists()


def test_quarantine_holds_every_planted_malformed_record(ingested, synth_raw):
    out, m = ingested
    planted = json.loads((synth_raw / "_truth" / "summary.json").read_text())
    records = [json.loads(line) for f in sorted((out / "quarantine").glob("*.jsonl")) for line in f.open()]
    assert len(records) == m["quarantined"] >= 1
    assert m["quarantined"] == sum(planted["malformed"].values()) >= 10
    for r in records:
        assert r["reason"] and r["source"] and (r["line"] or r["offset"] is not None)


def test_planted_duplicates_are_removed(ingested, synth_raw):
    out, m = ingested
    truth = _truth(synth_raw)
    kept = set(_corpus(out).column("id").to_pylist())
    for kind in ("exact_dup", "retweet"):
        ids = truth.filter(pc.equal(truth.column("kind"), kind)).column("id").to_pylist()
        assert ids, kind
        survivors = [i for i in ids if i in kept]
        assert len(survivors) <= 0.05 * len(ids), (kind, len(survivors), len(ids))
    assert m["filtered"].get("dedup.exact", 0) > 0 and m["filtered"].get("dedup.near", 0) > 0


def test_ground_truth_audit(ingested, synth_raw):
    from warble.data.audit import audit_against_truth

    a = audit_against_truth(synth_raw, ingested[0])
    assert a["removed"]["exact_dup"] >= 0.99 and a["removed"]["retweet"] >= 0.95
    assert a["removed"]["near_dup"] >= 0.8 and a["removed"]["spam"] >= 0.8
    assert a["kept"]["original"] >= 0.8
    assert a["pii_values_in_kept_posts"] > 0 and a["pii_values_left"] == 0
    assert a["malformed_planted"] == a["quarantined"]
    assert a["lang_accuracy"] >= 0.97


def test_no_personal_data_left(ingested):
    out, m = ingested
    texts = _corpus(out).column("text").to_pylist()
    assert not [t for t in texts if EMAIL.search(t)]
    assert m["modified"].get("pii.email", 0) > 0 and m["modified"].get("pii.phone", 0) > 0


def test_split_keeps_conversations_together(ingested):
    out, _ = ingested
    sides = {}
    for split in ("train", "validation"):
        t = ds.dataset(out / "corpus" / split, format="parquet").to_table(columns=["conversation_id", "id"])
        for conv in pc.coalesce(t.column("conversation_id"), t.column("id")).to_pylist():
            sides.setdefault(conv, set()).add(split)
    assert all(len(s) == 1 for s in sides.values())
    assert any(s == {"validation"} for s in sides.values())


def test_languages_and_stats(ingested):
    _, m = ingested
    assert {"en", "es", "ja"} <= set(m["languages"])
    assert sum(m["length_histogram"]["counts"]) == m["kept"]
    assert m["time_range"]["min"] < m["time_range"]["max"]


def test_deterministic_output(ingested, synth_raw, tmp_path):
    out, m = ingested
    again = run_ingest([str(synth_raw)], tmp_path / "again", IngestConfig(workers=1), progress=False,
                       log=lambda *a: None)
    assert again["files"] == m["files"]
    for rel in m["files"]:
        assert pq.read_table(out / rel).equals(pq.read_table(tmp_path / "again" / rel))


def test_compliance_lists_at_ingest_and_after(ingested, synth_raw, tmp_path):
    out, m = ingested
    table = _corpus(out)
    author = Counter(table.column("author_id").to_pylist()).most_common(1)[0][0]
    post = table.column("id")[0].as_py()
    (tmp_path / "optout.txt").write_text(f"{author}\n")
    (tmp_path / "deleted.txt").write_text(f"# deleted\n{post}\n")
    cfg = IngestConfig(workers=1, opt_out=[str(tmp_path / "optout.txt")], deletions=[str(tmp_path / "deleted.txt")])
    m2 = run_ingest([str(synth_raw)], tmp_path / "c", cfg, progress=False, log=lambda *a: None)
    t2 = _corpus(tmp_path / "c")
    assert author not in t2.column("author_id").to_pylist() and post not in t2.column("id").to_pylist()
    assert m2["filtered"]["compliance.opted_out"] > 0 and m2["filtered"]["compliance.deleted"] >= 1

    # The same lists applied to the existing corpus afterwards remove the same posts. (It can keep fewer: a
    # duplicate whose kept copy was by an opted-out author is gone from the old corpus, and is not brought back.)
    import shutil

    shutil.copytree(out, tmp_path / "later")
    m3 = apply_deletions(tmp_path / "later", ComplianceLists.load([tmp_path / "optout.txt"], [tmp_path / "deleted.txt"]),
                         log=lambda *a: None)
    t3 = _corpus(tmp_path / "later")
    ids3 = set(t3.column("id").to_pylist())
    assert ids3 <= set(t2.column("id").to_pylist())
    assert post not in ids3 and author not in t3.column("author_id").to_pylist()
    assert len(ids3) == m["kept"] - m3["filtered"]["compliance.opted_out"] - m3["filtered"]["compliance.deleted"]
    assert m3["read"] == m3["kept"] + m3["quarantined"] + sum(m3["filtered"].values())
    assert load_manifest(tmp_path / "later") == m3
    assert author in (tmp_path / "later" / "compliance" / "opt_out_authors.txt").read_text().split()


def test_refuses_to_overwrite_and_bad_inputs(ingested, synth_raw, tmp_path):
    out, _ = ingested
    with pytest.raises(InputError, match="--overwrite"):
        run_ingest([str(synth_raw)], out, IngestConfig(), progress=False, log=lambda *a: None)
    with pytest.raises(InputError):
        run_ingest([str(tmp_path / "nope")], tmp_path / "o", IngestConfig(), progress=False, log=lambda *a: None)


def test_stages_can_be_switched_off(synth_raw, tmp_path):
    cfg = IngestConfig(workers=1)
    for stage in ("normalize", "placeholders", "pii", "langid", "quality", "dedup"):
        setattr(cfg.stages, stage, False)
    m = run_ingest([str(synth_raw)], tmp_path / "raw-only", cfg, progress=False, log=lambda *a: None)
    assert set(m["filtered"]) <= {"compliance.opted_out", "compliance.deleted"}
    assert m["kept"] + m["quarantined"] == m["read"]


@pytest.mark.ray
def test_ray_executor_matches_local(ingested, synth_raw, tmp_path):
    pytest.importorskip("ray")
    out, m = ingested
    m_ray = run_ingest([str(synth_raw)], tmp_path / "ray", IngestConfig(executor="ray", workers=2), progress=False,
                       log=lambda *a: None)
    assert m_ray["files"] == m["files"]
    for key in ("read", "kept", "quarantined", "filtered", "languages", "splits"):
        assert m_ray[key] == m[key], key
    for rel in m["files"]:
        assert pq.read_table(out / rel).equals(pq.read_table(tmp_path / "ray" / rel)), rel


def test_config_errors_before_any_work(tmp_path):
    from dataclasses import replace

    from warble.data.pipeline import StageSwitches
    from warble.errors import ConfigError

    bad = [IngestConfig(workers=-1), IngestConfig(dedup=replace(IngestConfig().dedup, max_rows_per_pass=0)),
           IngestConfig(stages=StageSwitches(langid=False), langid=replace(IngestConfig().langid, allow=("en",)))]
    for cfg in bad:
        with pytest.raises(ConfigError):
            run_ingest([str(tmp_path)], tmp_path / "o", cfg, progress=False, log=lambda *a: None)
    assert not (tmp_path / "o").exists()


def test_reposts_of_opted_out_authors_and_blocked_quarantine(tmp_path):
    """An opted-out author's post is gone, and so is a retweet of it that names no author id; a malformed record
    that names the author is purged from the quarantine instead of kept."""
    lines = [
        {"id": "1", "author_id": "optout", "text": "my secret thoughts about the weather today", "origin": "x",
         "created_at": "2026-01-01T00:00:00Z"},
        {"id": "2", "author_id": "fan", "text": "RT @someone: my secret thoughts about the weather today",
         "origin": "x", "created_at": "2026-01-02T00:00:00Z"},
        {"id": "3", "author_id": "fan", "text": "an ordinary post of my own about the game", "origin": "x"},
        {"id": "4", "author_id": "optout", "text": 12345, "origin": "x"},
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "optout.txt").write_text("\ufeffoptout\n")  # with a byte-order mark, as some editors write
    cfg = IngestConfig(workers=1, opt_out=[str(tmp_path / "optout.txt")])
    cfg.stages.quality = False
    m = run_ingest([str(tmp_path / "in.jsonl")], tmp_path / "o", cfg, progress=False, log=lambda *a: None)
    assert _corpus(tmp_path / "o").column("id").to_pylist() == ["3"]
    assert m["filtered"] == {"compliance.opted_out": 1, "compliance.repost_of_blocked": 1,
                             "compliance.purged_from_quarantine": 1}
    assert m["quarantined"] == 0 and not list((tmp_path / "o" / "quarantine").glob("*.jsonl"))


def test_output_inside_input_tree_is_not_read_back(tmp_path, synth_raw):
    import shutil

    shutil.copytree(synth_raw, tmp_path / "data")
    m1 = run_ingest([str(tmp_path / "data")], tmp_path / "data" / "clean", IngestConfig(workers=1), progress=False,
                    log=lambda *a: None)
    m2 = run_ingest([str(tmp_path / "data")], tmp_path / "data" / "clean", IngestConfig(workers=1), overwrite=True,
                    progress=False, log=lambda *a: None)
    assert m1["read"] == m2["read"] and m1["files"] == m2["files"]
