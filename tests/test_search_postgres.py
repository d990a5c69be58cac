"""The PostgreSQL backend's own guarantees, on a real server on loopback (tests/pg_server.py): crash safety (a
writer killed mid-add), compaction removing deleted posts from the files, the single-writer lock, read-only
handles, errors for bad DSNs and schemas, and `warble index --backend postgres` end to end. What it shares with the
embedded backend is tested once for both in tests/test_search_contract.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_search_index import post

from warble.errors import InputError
from warble.search.index import create_index, open_index
from warble.search.index.postgres import FIELD_NORMS, quantised_length, tsvector_literal

psycopg = pytest.importorskip("psycopg", reason="the postgres backend needs psycopg")
pytest_plugins = ["pg_server"]  # fixtures pg_dsn, fresh_schema: a PostgreSQL server on loopback
ROOT = Path(__file__).resolve().parents[1]


def test_tantivy_fieldnorm_table_and_literals():
    assert FIELD_NORMS[:42] == list(range(41)) + [42] and FIELD_NORMS[-1] == 2_013_265_944
    assert [quantised_length(n) for n in (0, 40, 41, 43, 57, 59, 60)] == [0, 40, 40, 42, 56, 56, 60]
    assert tsvector_literal(["it's", "a", "a", "b\\c"]) == "'it''s':1 'a':2,3 'b\\\\c':4"


def test_quotes_and_backslashes_in_words_round_trip(pg_dsn, fresh_schema):
    with create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn) as idx:
        idx.add([post(1, "it's a back\\slash"), post(2, "its fine")])
        assert [h.id for h in idx.search('"it s"', mode="lexical")] == ["p1"]
        assert [h.id for h in idx.search("slash back", mode="lexical")] == ["p1"]


def _consistent(conn, schema):
    """The statistics BM25 reads agree with the posts table."""
    conn.execute(f"SET search_path TO {schema}")
    posts, tokens = conn.execute("SELECT posts, tokens FROM stats").fetchone()
    assert posts == conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert tokens == conn.execute("SELECT coalesce(sum(cardinality(toks)), 0) FROM posts").fetchone()[0]
    bad = conn.execute("SELECT count(*) FROM (SELECT t, count(DISTINCT p.key) n FROM posts p, unnest(p.toks) t "
                       "GROUP BY t) x FULL JOIN (SELECT * FROM terms WHERE df > 0) y ON x.t = y.term "
                       "WHERE x.n IS DISTINCT FROM y.df").fetchone()[0]
    assert bad == 0
    return posts


def test_crash_safety_writer_killed_mid_add(pg_dsn, fresh_schema, tmp_path):
    """SIGKILL a writer adding batches of 50 posts: every acknowledged batch is there, an unacknowledged one
    entirely or not at all, and the statistics match the rows."""
    create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn).close()
    child = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from test_search_index import post
        from warble.search.index import open_index
        idx = open_index({fresh_schema!r}, backend="postgres", dsn={pg_dsn!r})
        for b in range(10_000):
            idx.add([post(b * 50 + i, f"word{{i % 7}} batch{{b}} filler text") for i in range(50)])
            print(b + 1, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    acked = 0
    deadline = time.monotonic() + 60
    while acked < 8 and time.monotonic() < deadline:
        acked = int(proc.stdout.readline() or acked)
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acked = max([acked] + [int(x) for x in proc.stdout.read().split()])
    assert acked >= 8
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        n = _consistent(conn, fresh_schema)
    assert n % 50 == 0 and n // 50 in (acked, acked + 1)
    with open_index(fresh_schema, backend="postgres", dsn=pg_dsn) as idx:  # the killed writer's lock went with it
        assert len(idx.search("word3", mode="lexical", limit=10_000)) == sum(
            1 for b in range(n // 50) for i in range(50) if i % 7 == 3)


def test_compaction_removes_deleted_posts_from_the_files(pg_dsn, fresh_schema):
    marker = "zqxjmarkerword"
    with create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn) as idx:
        idx.add([post(i, f"{marker} number {i}" if i < 3 else f"plain post {i}") for i in range(40)])
        assert idx.delete(["p0", "p1", "p2"]) == 3
        assert idx.search(marker, mode="lexical") == []
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            def on_disk() -> bool:
                conn.execute("CHECKPOINT")
                return any(marker.encode() in conn.execute(
                    "SELECT pg_read_binary_file(pg_relation_filepath(%s))", (f"{fresh_schema}.{rel}",)).fetchone()[0]
                    for rel in ("posts", "posts_tsv"))

            assert on_disk()  # a DELETE leaves dead tuples until vacuum
            assert idx.compact()["removed"] == 3
            assert not on_disk()
            _consistent(conn, fresh_schema)
        assert idx.compact() == {"removed": 0, "seconds": 0.0}
        assert idx.stats()["posts"] == 37 and idx.stats()["dead_not_compacted"] == 0


def test_one_writer_many_readers(pg_dsn, fresh_schema):
    w = create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn)
    try:
        with pytest.raises(InputError, match="another process"):
            open_index(fresh_schema, backend="postgres", dsn=pg_dsn)
        r = open_index(fresh_schema, backend="postgres", dsn=pg_dsn, readonly=True)
        w.add([post(1, "hello reader")])
        assert [h.id for h in r.search("hello")] == ["p1"]  # a reader sees a commit at once
        with pytest.raises(InputError, match="read-only"):
            r.add([post(2, "no")])
        with pytest.raises(InputError, match="read-only"):
            r.delete(["p1"])
        r.close()
    finally:
        w.close()
    open_index(fresh_schema, backend="postgres", dsn=pg_dsn).close()  # the lock is released on close


def test_bad_dsn_schema_and_backend_errors(pg_dsn, fresh_schema):
    with pytest.raises(InputError, match="cannot connect"):
        open_index("warble", backend="postgres", dsn="postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(InputError, match="no Warble search index"):
        open_index(fresh_schema, backend="postgres", dsn=pg_dsn)
    with pytest.raises(InputError, match="schema name"):
        open_index("Bad-Name; DROP", backend="postgres", dsn=pg_dsn)
    with pytest.raises(InputError, match="needs --dsn"):
        open_index("x", backend="postgres")
    with pytest.raises(InputError, match="backend must be"):
        open_index("x", backend="mysql")
    create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn).close()
    with pytest.raises(InputError, match="already exists"):
        create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn)


def test_secret_is_not_echoed():
    from warble.search.index.postgres import _redact

    assert "secret" not in _redact("postgresql://me:secret@db:5432/x") + _redact("host=db password=secret")


# ---------------------------------------------------------------------------------------------------- CLI
def test_cli_index_postgres_build_add_delete_compact(corpus_dir, pg_dsn, fresh_schema, tmp_path, capsys):
    from warble.cli import main

    base = ["index", "--backend", "postgres", "--dsn", pg_dsn, "--schema", fresh_schema, "--no-progress"]
    assert main([*base[:1], str(corpus_dir), *base[1:], "--embedder", "none"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["backend"] == "postgres" and built["added"] > 1000 and built["posts"] == built["added"]
    assert main([*base[:1], str(corpus_dir), *base[1:], "--add"]) == 0
    assert json.loads(capsys.readouterr().out)["duplicates"] == built["added"]
    with open_index(fresh_schema, backend="postgres", dsn=pg_dsn, readonly=True) as idx:
        victims = [h.id for h in idx.search("-filter:replies", limit=5)]
    (tmp_path / "del.txt").write_text("\n".join(victims) + "\n")
    assert main([*base, "--delete", str(tmp_path / "del.txt"), "--compact"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["compact"]["removed"] >= 5 and done["posts"] <= built["posts"] - 5
    with open_index(fresh_schema, backend="postgres", dsn=pg_dsn, readonly=True) as idx:
        assert not idx.get(victims)
    assert main([*base[:1], str(corpus_dir), *base[1:]]) == 2  # exists: --add or --overwrite
    assert "already holds" in capsys.readouterr().err
    assert main([*base[:1], str(corpus_dir), *base[1:], "--overwrite", "--embedder", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == built["added"]


def test_cli_search_logs_suggests_and_completes_on_postgres(pg_dsn, fresh_schema, capsys):
    """`warble search --backend postgres`: queries go to the schema's query log (through the read-only search
    handle), and --suggest / --complete read the lexicon kept in the schema."""
    from warble.cli import main

    with create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn) as idx:
        idx.add([post(i, f"marmalade sandwich number{i % 4}") for i in range(12)])
    base = ["search", "--backend", "postgres", "--dsn", pg_dsn, "--schema", fresh_schema]
    assert main([*base, "marmalade sandwich", "--json"]) == 0  # logged, with the 10 hits it returned
    assert main([*base, "marmalade secret", "--no-log"]) == 0
    capsys.readouterr()
    assert main([*base, "--complete", "MARM", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["completions"][0] == {"text": "marmalade sandwich", "source": "queries", "count": 1}
    assert all("secret" not in c["text"] for c in out["completions"])
    assert main([*base, "--suggest", "marmalde", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["suggestions"][0]["text"] == "marmalade"
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(f"SELECT query, hits FROM {fresh_schema}.query_log").fetchall() == \
            [("marmalade sandwich", 10)]


@pytest.mark.parametrize("args,msg", [
    (["index", "--backend", "postgres", "--delete", "x.txt"], "needs --dsn"),
    (["index", "--delete", "x.txt"], "--out IDX is needed"),
])
def test_cli_index_postgres_bad_flags(args, msg, capsys, tmp_path, monkeypatch):
    from warble.cli import main

    (tmp_path / "x.txt").write_text("p1\n")
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1


def test_bulk_load_rebuilds_the_indexes_and_open_repairs_them(pg_dsn, fresh_schema):
    def indexes(conn) -> set[str]:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                                           (fresh_schema,))}

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        with create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn) as idx:
            full = indexes(conn)
            assert "posts_tsv" in full
            with idx.bulk_load():
                assert "posts_tsv" not in indexes(conn)
                idx.add([post(i, f"bulk word{i % 3}") for i in range(30)])
                assert len(idx.search("word1", mode="lexical", limit=100)) == 10  # searchable inside, by scans
            assert indexes(conn) == full
            assert len(idx.search("word1", mode="lexical", limit=100)) == 10
        conn.execute(f"DROP INDEX {fresh_schema}.posts_tsv")  # as a writer killed inside bulk_load leaves it
        open_index(fresh_schema, backend="postgres", dsn=pg_dsn).close()
        assert indexes(conn) == full


def test_read_only_role_searches_logs_and_suggests_without_ddl(pg_dsn, fresh_schema, capsys):
    """A role that may only read the schema and append to query_log (no CREATE on the schema): it searches, logs
    queries and reads a current lexicon; a stale lexicon it cannot rewrite is a clean InputError; a log it may not
    write or read is warned about once and the search and completion go on."""
    from warble.search.understand import Lexicon, complete, log_query, open_query_log, suggest

    with create_index(fresh_schema, "none", backend="postgres", dsn=pg_dsn) as idx:
        idx.add([post(i, f"marmalade sandwich number{i % 4}") for i in range(12)])
        Lexicon.open(idx).close()  # current: the reader only reads it
    ro = f"ro_{fresh_schema}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ro} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {fresh_schema} TO {ro}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {fresh_schema} TO {ro}")
        conn.execute(f"GRANT INSERT ON {fresh_schema}.query_log TO {ro}")
        ro_dsn = pg_dsn.replace("postgres@", f"{ro}@", 1)
        reader = open_index(fresh_schema, backend="postgres", dsn=ro_dsn, readonly=True)
        try:
            assert len(reader.search("marmalade")) == 10
            log_query(reader, "marmalade sandwich", 10)
            lex = Lexicon.open(reader)
            assert suggest(lex, "marmalde")["suggestions"][0]["text"] == "marmalade"
            log = open_query_log(reader)
            assert complete(lex, "marm", log=log)[0] == {"text": "marmalade sandwich", "source": "queries",
                                                          "count": 1}
            lex.close()
            assert capsys.readouterr().err == ""

            with open_index(fresh_schema, backend="postgres", dsn=pg_dsn) as writer:
                writer.add([post(20, "marmalade toast")])
            with pytest.raises(InputError, match="cannot keep the lexicon"):
                Lexicon.open(reader)  # stale, and this role may not rewrite it

            conn.execute(f"REVOKE INSERT, SELECT ON {fresh_schema}.query_log FROM {ro}")
            log_query(reader, "marmalade toast", 1)
            log_query(reader, "marmalade toast", 1)
            assert capsys.readouterr().err.count("warning: queries are not logged") == 1  # once, not per query
            with open_index(fresh_schema, backend="postgres", dsn=pg_dsn) as writer:
                Lexicon.open(writer).close()
            lex = Lexicon.open(reader)
            assert [c["source"] for c in complete(lex, "marm", log=log)] == ["terms"]  # posts only
            assert "past queries cannot be read" in capsys.readouterr().err
            lex.close()
            assert conn.execute(f"SELECT count(*) FROM {fresh_schema}.query_log").fetchone()[0] == 1
        finally:
            reader.close()

        # a schema made before the side tables: the reader cannot create them (no log, a clean lexicon error);
        # the next writable open does
        conn.execute(f"DROP TABLE {fresh_schema}.query_log, {fresh_schema}.lexicon_meta, "
                     f"{fresh_schema}.lexicon_terms")
        with open_index(fresh_schema, backend="postgres", dsn=ro_dsn, readonly=True) as reader:
            assert open_query_log(reader) is None
            log_query(reader, "marmalade", 10)
            with pytest.raises(InputError, match="cannot keep the lexicon"):
                Lexicon.open(reader)
        open_index(fresh_schema, backend="postgres", dsn=pg_dsn).close()
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
                            (fresh_schema, ["query_log", "lexicon_meta", "lexicon_terms"])).fetchone()[0] == 3
        conn.execute(f"DROP OWNED BY {ro}")
        conn.execute(f"DROP ROLE {ro}")
