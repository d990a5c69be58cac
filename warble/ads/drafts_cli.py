"""`warble ads drafts`: review ad-copy drafts (list, approve, reject, edit) and read their audit log."""

from __future__ import annotations

import argparse
import json

from warble.errors import ConfigError

HELP = "review ad-copy drafts: list, approve, reject, edit, audit (nothing is published unapproved)"
DESCRIPTION = """\
Drafts written by `warble ads generate` wait here for a person. Approving a draft that failed a blocking check
(length, required or banned words, brand safety, facts, memorization, links) is refused unless --override gives a
reason; every action is appended to the audit log with who did it and when.

  warble ads drafts list --status draft
  warble ads drafts approve 3f2a9c1b7d4e --by alice
  warble ads drafts reject 3f2a9c1b7d4e --by alice --reason "off-brand tone"
  warble ads drafts audit 3f2a9c1b7d4e --json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from warble.ads.copy_cli import DEFAULT_DRAFTS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--drafts", default=DEFAULT_DRAFTS, metavar="DIR",
                        help=f"drafts directory (default ./{DEFAULT_DRAFTS})")
    common.add_argument("--json", action="store_true", help="print one JSON object")
    sub = p.add_subparsers(dest="drafts_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", parents=[common], help="list drafts")
    ls.add_argument("--status", choices=["draft", "approved", "rejected"])
    ls.add_argument("--batch", help="only one `warble ads generate` run")
    ap = sub.add_parser("approve", parents=[common], help="approve a draft for publishing")
    ap.add_argument("id")
    ap.add_argument("--by", required=True, metavar="NAME", help="who approves")
    ap.add_argument("--override", metavar="REASON", help="approve although a blocking check failed, because ...")
    rj = sub.add_parser("reject", parents=[common], help="reject a draft")
    rj.add_argument("id")
    rj.add_argument("--by", required=True, metavar="NAME")
    rj.add_argument("--reason", required=True)
    ed = sub.add_parser("edit", parents=[common], help="replace a draft's text; the checks run again")
    ed.add_argument("id")
    ed.add_argument("--text", required=True)
    ed.add_argument("--by", required=True, metavar="NAME")
    ed.add_argument("--model", required=True, metavar="RUN",
                    help="the run the drafts came from: the memorization check runs on the new text")
    au = sub.add_parser("audit", parents=[common], help="the audit log (of one draft, or all)")
    au.add_argument("id", nargs="?")


def run(a) -> int:
    import os

    from warble.ads.drafts import DB_FILE, DraftStore

    if not os.path.isfile(os.path.join(a.drafts, DB_FILE)):
        raise ConfigError(f"no drafts in {a.drafts} (write some with `warble ads generate`, or pass --drafts DIR)")
    store = DraftStore.open(a.drafts)
    cmd = a.drafts_command
    if cmd == "list":
        drafts = store.list(a.status, a.batch)
        _out(a, {"drafts": [d.to_dict() for d in drafts], "path": str(store.path)},
             lambda: [print(f"{d.id}  {d.status:8s}  #{d.rank or '-':<2}  {d.text[:80]!r}"
                            + (f"  (failed {', '.join(d.blocked)})" if d.blocked else "")) for d in drafts]
             or print(f"{len(drafts)} drafts"))
    elif cmd == "approve":
        d = store.approve(a.id, a.by, override=a.override)
        _out(a, {"draft": d.to_dict()}, lambda: print(f"approved {d.id} by {a.by}: {d.post!r}"))
    elif cmd == "reject":
        d = store.reject(a.id, a.by, a.reason)
        _out(a, {"draft": d.to_dict()}, lambda: print(f"rejected {d.id} by {a.by}: {a.reason}"))
    elif cmd == "edit":
        d = _edit(store, a)
        _out(a, {"draft": d.to_dict()}, lambda: print(f"edited {d.id}: now {d.status}"
                                                      + (f" (failed {', '.join(d.blocked)})" if d.blocked else "")))
    else:
        log = store.audit(a.id)
        _out(a, {"audit": log}, lambda: [print(f"{e['at']}  {e['draft_id']}  {e['actor']:12s}  {e['action']:9s}  "
                                               f"{json.dumps(e['detail'], ensure_ascii=False)[:100]}") for e in log])
    return 0


def _edit(store, a):
    """Re-run every check on the new text (the memorization check against --model's training posts)."""
    from warble.ads.brief import Brief
    from warble.ads.checks import run_checks
    from warble.ads.constraints import fit_to_limit
    from warble.ads.copy_cli import load_tools

    d = store.get(a.id)
    brief = Brief.from_dict(d.brief)
    text = " ".join(a.text.split())
    if fit_to_limit(text, brief.char_limit) != text:
        raise ConfigError(f"--text is {len(text)} characters; this brief allows {brief.char_limit}")
    tools, skipped = load_tools(a.model, progress=False)
    checks = run_checks([text], brief, safety=tools["safety"], guard=tools["guard"], skipped=skipped)[0]
    post = f"{text} {brief.url}" if brief.url else text
    return store.edit(a.id, text, a.by, [c.to_dict() for c in checks], post)


def _out(a, obj: dict, human) -> None:
    if a.json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        human()
