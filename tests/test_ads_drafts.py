"""Ad-copy drafts: statuses, the append-only audit log, approval refused for blocked drafts unless overridden, and
the `warble ads drafts` command."""

import argparse
import json
import sqlite3

import pytest

from warble.ads.brief import Brief
from warble.ads.drafts import DraftError, DraftStore

BRIEF = Brief.from_dict({"product": "Trailrunner 2", "url": "https://acme.example/tr2",
                         "must_include": ["Trailrunner"], "must_avoid": ["cheap"]})


def _entries():
    ok = [{"name": n, "passed": True, "detail": "ok"} for n in ("length", "required", "banned")]
    return [
        {"text": "Trailrunner 2: light and fast.", "post": "Trailrunner 2: light and fast. https://acme.example/tr2",
         "rank": 1, "score": 1.5, "score_parts": {"mmr": 0.7}, "checks": ok, "opening": "Trailrunner 2"},
        {"text": "Trailrunner 2, so cheap!", "rank": None, "score": None, "checks":
            ok[:2] + [{"name": "banned", "passed": False, "detail": "found: cheap"}], "failed": ["banned"]},
    ]


@pytest.fixture
def store(tmp_path):
    s = DraftStore.open(tmp_path / "drafts")
    entries = _entries()
    s.add(entries, BRIEF, actor="generator", model="run")
    return s, entries


def test_add_sets_ids_statuses_and_audit(store):
    s, (good, bad) = store
    assert good["status"] == "draft" and bad["status"] == "rejected" and good["id"] != bad["id"]
    d = s.get(good["id"])
    assert d.text == good["text"] and d.brief == BRIEF.to_dict() and d.scores == {"score": 1.5, "mmr": 0.7}
    assert d.checks == good["checks"] and d.blocked == [] and d.rank == 1 and d.model == "run"
    assert s.get(bad["id"]).blocked == ["banned"]
    log = s.audit(bad["id"])
    assert [(e["actor"], e["action"]) for e in log] == [("generator", "created"), ("checks", "rejected")]
    assert [d.id for d in s.list()] == [good["id"], bad["id"]]  # ranked first, rejected last
    assert [d.id for d in s.list("rejected")] == [bad["id"]] and s.approved() == []


def test_approval_and_rejection(store):
    s, (good, _) = store
    with pytest.raises(DraftError, match="--by"):
        s.approve(good["id"], by=" ")
    d = s.approve(good["id"], by="alice")
    assert d.status == "approved" and [x.id for x in s.approved()] == [good["id"]]
    with pytest.raises(DraftError, match="already approved"):
        s.approve(good["id"], by="alice")
    with pytest.raises(DraftError, match="reason"):
        s.reject(good["id"], by="bob", reason="")
    assert s.reject(good["id"], by="bob", reason="off-brand").status == "rejected"
    assert s.approved() == []
    actions = [(e["actor"], e["action"], e["detail"].get("reason")) for e in s.audit(good["id"])]
    assert actions == [("generator", "created", None), ("alice", "approved", None), ("bob", "rejected", "off-brand")]
    with pytest.raises(DraftError, match="no draft"):
        s.approve("nope", by="alice")


def test_blocked_draft_needs_an_override(store):
    s, (_, bad) = store
    with pytest.raises(DraftError, match="failed banned.*--override"):
        s.approve(bad["id"], by="alice")
    with pytest.raises(DraftError):
        s.approve(bad["id"], by="alice", override="  ")
    assert s.get(bad["id"]).status == "rejected"
    d = s.approve(bad["id"], by="alice", override="legal cleared the word")
    assert d.status == "approved"
    last = s.audit(bad["id"])[-1]
    assert last["action"] == "approved" and last["detail"] == {"from": "rejected", "override": "legal cleared the word",
                                                               "failed": ["banned"]}


def test_audit_log_is_append_only(store):
    s, _ = store
    with sqlite3.connect(s.path) as db:
        for sql in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
    assert all(e["actor"] != "mallory" for e in s.audit())


def test_edit_reruns_status(store):
    s, (good, _) = store
    s.approve(good["id"], by="alice")
    failing = [{"name": "required", "passed": False, "detail": "missing: Trailrunner"}]
    d = s.edit(good["id"], "Light and fast.", "carol", failing, "Light and fast. https://acme.example/tr2")
    assert d.status == "rejected" and d.blocked == ["required"] and d.text == "Light and fast."
    last = s.audit(good["id"])[-1]
    assert last["action"] == "edited" and last["detail"]["old_text"] == good["text"]
    assert last["detail"]["from"] == "approved"


# ------------------------------------------------------------------------------------------------ CLI
def _run(argv, capsys):
    """`warble ads drafts ...` through warble.cli when the lead has wired it, else through the module's parser
    (the same add_arguments/run pair warble.cli uses), with warble.cli's error handling."""
    from warble.ads import drafts_cli
    from warble.cli import build_parser, main
    from warble.errors import WarbleError

    try:
        build_parser().parse_args(["ads", "drafts", "list"])
        wired = True
    except SystemExit:
        wired = False
    capsys.readouterr()
    if wired:
        code = main(["ads", "drafts", *argv])
    else:
        p = argparse.ArgumentParser(prog="warble ads drafts")
        drafts_cli.add_arguments(p)
        try:
            code = drafts_cli.run(p.parse_args(argv))
        except WarbleError as e:
            print(f"warble ads: error: {e}", file=__import__("sys").stderr)
            code = e.exit_code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_review_flow(store, capsys):
    s, (good, bad) = store
    d = ["--drafts", str(s.dir)]
    code, out, _ = _run(["list", *d, "--json"], capsys)
    assert code == 0 and [x["id"] for x in json.loads(out)["drafts"]] == [good["id"], bad["id"]]
    code, out, _ = _run(["list", *d, "--status", "rejected"], capsys)
    assert code == 0 and bad["id"] in out and good["id"] not in out and "failed banned" in out

    code, _, err = _run(["approve", bad["id"], "--by", "alice", *d], capsys)
    assert code == 2 and "--override" in err and "Traceback" not in err
    code, out, _ = _run(["approve", good["id"], "--by", "alice", *d, "--json"], capsys)
    assert code == 0 and json.loads(out)["draft"]["status"] == "approved"
    code, out, _ = _run(["approve", bad["id"], "--by", "alice", "--override", "cleared", *d], capsys)
    assert code == 0 and "approved" in out
    code, out, _ = _run(["reject", good["id"], "--by", "bob", "--reason", "tone", *d], capsys)
    assert code == 0 and s.get(good["id"]).status == "rejected"
    code, out, _ = _run(["audit", good["id"], *d, "--json"], capsys)
    assert [e["action"] for e in json.loads(out)["audit"]] == ["created", "approved", "rejected"]
    code, _, err = _run(["approve", "missing-id", "--by", "x", *d], capsys)
    assert code == 2 and "no draft" in err


def test_cli_without_drafts(tmp_path, capsys):
    code, _, err = _run(["list", "--drafts", str(tmp_path / "none")], capsys)
    assert code == 2 and "no drafts" in err


def test_cli_edit_reruns_checks(store, run_dir, capsys):
    s, (good, _) = store
    d = ["--drafts", str(s.dir), "--model", str(run_dir)]
    code, out, _ = _run(["edit", good["id"], "--text", "Trailrunner 2 now so cheap", "--by", "carol", *d, "--json"],
                        capsys)
    draft = json.loads(out)["draft"]
    assert code == 0 and draft["status"] == "rejected" and draft["blocked"] == ["banned"]
    assert [c["name"] for c in draft["checks"]][:3] == ["length", "required", "banned"]
    mem = next(c for c in draft["checks"] if c["name"] == "memorization")
    assert mem["passed"] is True
    code, _, err = _run(["edit", good["id"], "--text", "x" * 300, "--by", "carol", *d], capsys)
    assert code == 2 and "256" in err
