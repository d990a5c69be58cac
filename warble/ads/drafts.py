"""Ad-copy drafts and their audit log: nothing is published without a person's approval.

One SQLite file, DIR/drafts.sqlite, two tables:

    drafts  id, batch, created_at, status (draft | approved | rejected), text, post (text + link), brief (JSON),
            checks (JSON list of {name, passed, detail}), scores (JSON), rank, blocked (names of failed checks),
            model, opening, updated_at
    audit   seq, draft_id, at (UTC ISO time), actor, action (created | approved | rejected | edited), detail (JSON)

The audit table is append-only: triggers refuse UPDATE and DELETE on it, and every status change writes its row in
the same transaction as the change. A candidate that failed a blocking check is stored as `rejected` (actor
"checks"); approving it needs an override with a reason, which the audit keeps. `approved()` is the one way out
for anything that publishes.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warble.errors import InputError

DB_FILE = "drafts.sqlite"
STATUSES = ("draft", "approved", "rejected")
CHECKS_ACTOR = "checks"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY, batch TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'rejected')),
    text TEXT NOT NULL, post TEXT NOT NULL, brief TEXT NOT NULL, checks TEXT NOT NULL, scores TEXT NOT NULL,
    rank INTEGER, blocked TEXT NOT NULL, model TEXT, opening TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, draft_id TEXT NOT NULL REFERENCES drafts(id), at TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_draft ON audit(draft_id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class DraftError(InputError):
    """A review action that is not allowed (unknown id, approval of a blocked draft without an override, ...)."""


@dataclass
class Draft:
    id: str
    batch: str
    created_at: str
    updated_at: str
    status: str
    text: str
    post: str
    brief: dict
    checks: list[dict]
    scores: dict
    rank: int | None
    blocked: list[str]
    model: str | None
    opening: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class DraftStore:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        if self.dir.exists() and not self.dir.is_dir():
            raise InputError(f"drafts: {self.dir} is a file, not a directory")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / DB_FILE
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    @classmethod
    def open(cls, directory: str | Path) -> DraftStore:
        return cls(directory)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as e:
            raise InputError(f"drafts: cannot open {self.path}: {e}") from None
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @staticmethod
    def _log(db, draft_id: str, actor: str, action: str, detail: dict) -> None:
        db.execute("INSERT INTO audit (draft_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                   (draft_id, _now(), actor, action, json.dumps(detail, ensure_ascii=False)))

    # ------------------------------------------------------------------------------------------------ writing
    def add(self, entries: list[dict], brief, *, actor: str, model: str | None = None) -> list[str]:
        """Save candidates (generate_ads' entries) as one batch; sets each entry's "id" and "status". Entries with
        failed checks ("failed") are stored as rejected by the checks, the rest as drafts."""
        batch, now = uuid.uuid4().hex[:12], _now()
        brief_json = json.dumps(brief.to_dict(), ensure_ascii=False)
        ids = []
        with closing(self._connect()) as db, db:
            for e in entries:
                did = uuid.uuid4().hex[:12]
                blocked = list(e.get("failed") or [])
                status = "rejected" if blocked else "draft"
                scores = {"score": e.get("score"), **(e.get("score_parts") or {})}
                db.execute("INSERT INTO drafts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (did, batch, now, now, status, e["text"], e.get("post", e["text"]), brief_json,
                            json.dumps(e.get("checks", []), ensure_ascii=False), json.dumps(scores), e.get("rank"),
                            json.dumps(blocked), model, e.get("opening")))
                self._log(db, did, actor, "created", {"batch": batch, "rank": e.get("rank"), "text": e["text"]})
                if blocked:
                    self._log(db, did, CHECKS_ACTOR, "rejected", {"reason": "failed checks: " + ", ".join(blocked)})
                e["id"], e["status"] = did, status
                ids.append(did)
        return ids

    def _set_status(self, draft_id: str, status: str, actor: str, action: str, detail: dict) -> Draft:
        with closing(self._connect()) as db, db:
            cur = db.execute("UPDATE drafts SET status = ?, updated_at = ? WHERE id = ?", (status, _now(), draft_id))
            if cur.rowcount != 1:
                raise DraftError(f"no draft {draft_id!r}")
            self._log(db, draft_id, actor, action, detail)
        return self.get(draft_id)

    def approve(self, draft_id: str, by: str, *, override: str | None = None) -> Draft:
        """Approve a draft for publishing. A draft that failed a blocking check needs `override` (the reason)."""
        d = self.get(draft_id)
        by = _actor(by)
        if d.status == "approved":
            raise DraftError(f"draft {draft_id} is already approved")
        if d.blocked and not (override and override.strip()):
            raise DraftError(f"draft {draft_id} failed {', '.join(d.blocked)}: approving it needs --override "
                             "REASON")
        detail = {"from": d.status}
        if d.blocked:
            detail.update(override=override.strip(), failed=d.blocked)
        return self._set_status(draft_id, "approved", by, "approved", detail)

    def reject(self, draft_id: str, by: str, reason: str) -> Draft:
        d = self.get(draft_id)
        if not reason or not reason.strip():
            raise DraftError("rejecting needs a reason")
        if d.status == "rejected":
            raise DraftError(f"draft {draft_id} is already rejected")
        return self._set_status(draft_id, "rejected", _actor(by), "rejected", {"from": d.status,
                                                                               "reason": reason.strip()})

    def edit(self, draft_id: str, text: str, by: str, checks: list[dict], post: str) -> Draft:
        """Replace a draft's text with the checks re-run on it (the caller runs them); it goes back to `draft`
        (or `rejected` by the checks) and needs approval again."""
        from warble.ads.checks import blocking_failures

        d = self.get(draft_id)
        blocked = blocking_failures(checks)
        status = "rejected" if blocked else "draft"
        with closing(self._connect()) as db, db:
            db.execute("UPDATE drafts SET text = ?, post = ?, checks = ?, blocked = ?, status = ?, updated_at = ? "
                       "WHERE id = ?", (text, post, json.dumps(checks, ensure_ascii=False), json.dumps(blocked),
                                        status, _now(), draft_id))
            self._log(db, draft_id, _actor(by), "edited", {"from": d.status, "old_text": d.text, "text": text,
                                                           "failed": blocked})
        return self.get(draft_id)

    # ------------------------------------------------------------------------------------------------ reading
    def get(self, draft_id: str) -> Draft:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        if row is None:
            raise DraftError(f"no draft {draft_id!r} in {self.path}")
        return _draft(row)

    def list(self, status: str | None = None, batch: str | None = None) -> list[Draft]:
        if status is not None and status not in STATUSES:
            raise DraftError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        sql, args = "SELECT * FROM drafts WHERE 1 = 1", []
        if status:
            sql, args = sql + " AND status = ?", args + [status]
        if batch:
            sql, args = sql + " AND batch = ?", args + [batch]
        with closing(self._connect()) as db:
            rows = db.execute(sql + " ORDER BY created_at, batch, rank IS NULL, rank, id", args).fetchall()
        return [_draft(r) for r in rows]

    def approved(self) -> list[Draft]:
        """What may be published: approved drafts only."""
        return self.list("approved")

    def audit(self, draft_id: str | None = None) -> list[dict]:
        sql = "SELECT * FROM audit" + (" WHERE draft_id = ?" if draft_id else "") + " ORDER BY seq"
        with closing(self._connect()) as db:
            rows = db.execute(sql, (draft_id,) if draft_id else ()).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def _actor(by: str) -> str:
    if not by or not by.strip():
        raise DraftError("say who you are (--by NAME)")
    return by.strip()


def _draft(row: sqlite3.Row) -> Draft:
    d = dict(row)
    for k in ("brief", "checks", "scores", "blocked"):
        d[k] = json.loads(d[k])
    return Draft(**d)
