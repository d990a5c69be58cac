"""Compliance lists: opted-out authors and deleted posts never pass, reposts of deleted posts go with them."""

import pytest

from warble.data.compliance import ComplianceLists, ComplianceStage, read_id_list
from warble.data.schema import posts_to_batch, validate_post
from warble.errors import InputError


def _batch(rows):
    return posts_to_batch([validate_post({"origin": "test", **r}) for r in rows])


def test_read_id_list_skips_comments_and_blanks(tmp_path):
    p = tmp_path / "ids.txt"
    p.write_text("# deletions from 2026-11-01\n1\n\n 2 \n3  # trailing comment\n")
    assert read_id_list(p) == {"1", "2", "3"}
    with pytest.raises(InputError, match="does not exist"):
        read_id_list(tmp_path / "missing.txt")


def test_stage_drops_and_counts_by_reason(tmp_path):
    ComplianceLists({"u9"}, {"p2"}).save(tmp_path)
    batch = _batch([
        {"id": "p1", "author_id": "u1", "text": "kept"},
        {"id": "p2", "author_id": "u1", "text": "deleted post"},
        {"id": "p3", "author_id": "u9", "text": "opted-out author"},
        {"id": "p4", "author_id": "u2", "text": "RT @u1: deleted post", "repost_of_id": "p2"},
        {"id": "p5", "author_id": "u9", "text": "both", "repost_of_id": "p2"},
    ])
    res = ComplianceStage(tmp_path)(batch)
    assert res.batch.column("id").to_pylist() == ["p1"]
    assert res.filtered == {"compliance.deleted": 2, "compliance.opted_out": 2}


def test_empty_lists_pass_everything(tmp_path):
    batch = _batch([{"id": "1", "author_id": "a", "text": "x"}])
    assert ComplianceStage(tmp_path)(batch).batch.num_rows == 1


def test_save_load_round_trip_and_merge(tmp_path):
    a = ComplianceLists({"u1"}, {"p1"})
    a.save(tmp_path)
    b = ComplianceLists.from_dir(tmp_path).merged(ComplianceLists(set(), {"p2"}))
    assert b.opted_out_authors == {"u1"} and b.deleted_posts == {"p1", "p2"}
    assert a.summary()["digest"] != b.summary()["digest"]
