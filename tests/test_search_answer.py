"""Generated answers (warble.search.answer): citation checking, support, streaming order, the time budget, the
extractive mode, a real engine, the `warble search --answer` command and POST /v1/search/answer.

`FakeEngine` (also used by the rerank and query-understanding tests) has the Engine's generate / stream / score /
embed signatures: it writes a scripted text, so valid and invalid citations are known in advance.
"""

from __future__ import annotations

import json
import re
import time
import zlib

import numpy as np
import pyarrow.dataset as ds
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from warble.cli import main
from warble.errors import InputError
from warble.search.answer import (
    NO_SUPPORT,
    AnswerOptions,
    answer,
    answer_events,
    build_prompt,
    check_answer,
    lexical_support,
    model_support,
    split_sentences,
)
from warble.search.index import SearchIndex
from warble.serve.app import install_error_handlers
from warble.serve.types import Completion, Delta, Score


# ---------------------------------------------------------------------------------------------------- fake engine
class ByteTokenizer:
    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(ids).decode("utf-8", errors="ignore")


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeEngine:
    """Streams `text` one word per token. `clock`/`tick`: each token advances a FakeClock by `tick` seconds;
    `sleep`: each token really takes that long. `on_token(i)`: called before token i is streamed."""

    model_id = "fake"
    embedding_dim = 16

    def __init__(self, text: str = "", *, max_context: int = 4096, clock: FakeClock | None = None, tick: float = 0.0,
                 sleep: float = 0.0, on_token=None):
        self.text, self.max_context, self.clock, self.tick, self.sleep = text, max_context, clock, tick, sleep
        self.on_token = on_token
        self.tokenizer = ByteTokenizer()
        self.prompts: list[str] = []
        self.params = []
        self.streamed = 0
        self.aborted = False
        self.scored: list[tuple[str, str | None]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.encode("utf-8"))

    def _pieces(self, max_tokens: int) -> list[str]:
        return re.findall(r"\S+\s*", self.text)[:max_tokens]

    def stream(self, prompt, params=None):
        self.prompts.append(prompt)
        self.params.append(params)
        pieces = self._pieces(params.max_tokens if params else 64)
        finished = False
        try:
            for i, p in enumerate(pieces):
                if self.on_token:
                    self.on_token(i)
                if self.clock is not None:
                    self.clock.t += self.tick
                if self.sleep:
                    time.sleep(self.sleep)
                self.streamed += 1
                last = i == len(pieces) - 1
                yield Delta(p, [0], finish_reason=("stop" if len(pieces) < params.max_tokens else "length")
                            if last else None)
            if not pieces:
                yield Delta("", [], finish_reason="stop")
            finished = True
        finally:
            if not finished:
                self.aborted = True

    def generate(self, prompts, params=None):
        plist = [prompts] if isinstance(prompts, str) else list(prompts)
        out = []
        for p in plist:
            text = "".join(self._pieces(params.max_tokens if params else 64))
            out.append(Completion(text, [0] * len(text.split()), "stop", len(p), len(text.split())))
        return out

    @staticmethod
    def _words(t: str) -> list[str]:
        return re.findall(r"\w+", t.lower())

    def score(self, texts, contexts=None, include_eos=False):
        """Mean log-prob per word: -2, raised by 1 for every word of the text found in the context."""
        out = []
        for i, t in enumerate(texts):
            ctx = contexts[i] if contexts is not None else None
            self.scored.append((t, ctx))
            words = self._words(t) or [""]
            seen = set(self._words(ctx)) if ctx else set()
            lps = [-2.0 + (1.0 if w in seen else 0.0) for w in words]
            out.append(Score(sum(lps), [0] * len(words), lps, words))
        return out

    def embed(self, texts):
        v = np.zeros((len(texts), self.embedding_dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in self._words(t):
                v[i, zlib.crc32(w.encode()) % self.embedding_dim] += 1
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(n == 0, 1, n)


# ---------------------------------------------------------------------------------------------------- fixtures
POSTS = {
    "101": "The rocket launch was delayed by two hours because of high winds.",
    "102": "Launch day! The crowd cheered when the rocket finally lifted off the pad.",
    "103": "Pizza night with friends, nothing about space at all.",
    "104": "The launch party had free pizza and loud music until midnight.",
}
QUESTION = "what happened at the rocket launch?"


def make_index(path, posts=POSTS):
    idx = SearchIndex.create(path, "none")
    idx.add([{"id": i, "author_id": f"u{i}", "author_handle": f"user{i}", "text": t,
              "created_at": "2024-05-01T12:00:00Z"} for i, t in posts.items()])
    return idx


@pytest.fixture
def idx(tmp_path):
    i = make_index(tmp_path / "idx")
    yield i
    i.close()


def live_all(ids):
    return set(ids)


def events_of(index, engine, query=QUESTION, **kw):
    clock = kw.pop("clock", None)
    opts = AnswerOptions(**kw)
    return list(answer_events(index, engine, query, opts, **({"clock": clock} if clock else {})))


# ---------------------------------------------------------------------------------------------------- checking
def test_sentences_keep_their_trailing_citations():
    assert split_sentences("It was late. [101] Then it flew! [102][104]\nNo mark here [103]") == [
        "It was late. [101]", "Then it flew! [102][104]", "No mark here [103]"]
    assert split_sentences("Version 3.5 shipped. ok") == ["Version 3.5 shipped.", "ok"]


def test_valid_citations_are_kept_and_supported():
    raw = "The rocket launch was delayed by high winds [101]. The rocket finally lifted off [102]."
    a = check_answer(raw, POSTS, live_all)
    assert a.supported and a.citations == ["101", "102"]
    assert a.text == raw
    assert sum(a.removed.values()) == 0 and all(s.supported for s in a.sentences)
    assert a.sentences[0].support == 1.0


def test_citation_of_a_post_not_retrieved_is_removed_and_counted():
    raw = "The launch was delayed by winds [999]. The rocket lifted off [102, 555]."
    a = check_answer(raw, POSTS, live_all)
    assert a.removed["not_retrieved"] == 2
    assert {c["citation"] for c in a.removed_citations} == {"[999]", "[555]"}
    assert a.citations == ["102"]
    assert a.text == "The rocket lifted off [102]."  # the first sentence cites nothing valid: dropped
    assert not a.sentences[0].supported and a.sentences[0].support is None


def test_citation_of_a_deleted_post_is_removed():
    raw = "The launch was delayed by high winds [101]. The rocket lifted off [102]."
    a = check_answer(raw, POSTS, lambda ids: set(ids) - {"101"})
    assert a.removed["deleted"] == 1 and a.citations == ["102"]
    assert "[101]" not in a.text


def test_duplicate_citations_in_a_sentence_are_collapsed():
    raw = "The rocket launch was delayed [101] by high winds [101, 101]."
    a = check_answer(raw, POSTS, live_all)
    assert a.removed["duplicate"] == 2
    assert a.text.count("[101]") == 1 and a.citations == ["101"]


@pytest.mark.parametrize("raw,n", [
    ("The rocket launch was delayed [] by high winds [101].", 1),
    ("The rocket launch was delayed by high winds [post one] [101].", 1),
    ("The rocket launch was delayed by high winds [101] and [10", 1),
    ("The rocket launch ] was delayed by high winds [101].", 1),
    ("The rocket launch was delayed by high winds [101,,].", 2),
])
def test_malformed_citation_syntax_is_removed_and_counted(raw, n):
    a = check_answer(raw, POSTS, live_all)
    assert a.removed["malformed"] == n, a.removed_citations
    assert a.citations == ["101"] and a.supported
    assert "[]" not in a.text and "[10 " not in a.text + " " and "]" not in a.text.replace("[101]", "")


def test_unsupported_answer_says_so():
    raw = "Aliens stole the moon yesterday [103]. Nobody noticed the tides [104]."
    a = check_answer(raw, POSTS, live_all)
    assert not a.supported and a.text == NO_SUPPORT and a.citations == []
    assert all(not s.supported and s.support < 0.5 for s in a.sentences)
    assert a.raw == raw
    assert check_answer("", POSTS, live_all).text == NO_SUPPORT
    assert check_answer("No citations here at all.", POSTS, live_all).text == NO_SUPPORT


def test_partly_supported_answer_keeps_only_supported_sentences():
    raw = "The rocket launch was delayed by high winds [101]. Aliens stole the moon [101]."
    a = check_answer(raw, POSTS, live_all)
    assert a.supported and a.text == "The rocket launch was delayed by high winds [101]."
    assert [s.supported for s in a.sentences] == [True, False]


def test_lexical_support_measure():
    assert lexical_support("rocket launch delayed", [POSTS["101"]]) == 1.0
    assert lexical_support("rocket pizza", [POSTS["101"]]) == 0.5
    assert lexical_support("the of and", [POSTS["101"]]) == 0.0  # no content words
    assert lexical_support("rocket pizza", [POSTS["101"], POSTS["103"]]) == 1.0


def test_model_support_uses_engine_scores():
    sup = model_support(FakeEngine())
    assert sup("rocket launch delayed", [POSTS["101"]]) == pytest.approx(1.0)  # every word in the post: +1 a word
    assert sup("aliens moon", [POSTS["101"]]) == pytest.approx(0.0)
    raw = "Rocket launch delayed [101]. Aliens moon [101]."
    a = check_answer(raw, POSTS, live_all, support=sup, threshold=0.0)
    assert [s.supported for s in a.sentences] == [True, True]  # 0.0 gain passes threshold 0 ...
    a = check_answer(raw, POSTS, live_all, support=sup, threshold=0.5)
    assert [s.supported for s in a.sentences] == [True, False]  # ... and fails a stricter one


# ---------------------------------------------------------------------------------------------------- answering
def test_streaming_order_and_prompt(idx):
    raw = "The rocket launch was delayed by high winds [101]. It went up later [999]."
    eng = FakeEngine(raw)
    evs = events_of(idx, eng)
    kinds = [e["type"] for e in evs]
    assert kinds[0] == "hits" and kinds[-1] == "answer" and set(kinds[1:-1]) == {"delta"}
    assert "".join(e["text"] for e in evs if e["type"] == "delta") == raw
    final = evs[-1]
    assert final["raw"] == raw and final["citations"] == ["101"] and final["removed"]["not_retrieved"] == 1
    assert final["answer"] == "The rocket launch was delayed by high winds [101]."
    assert not final["cut"] and final["finish_reason"] == "stop" and final["mode"] == "generative"
    ids = [h["id"] for h in evs[0]["hits"]]
    assert set(ids) <= set(POSTS) and "101" in ids and final["posts_in_prompt"] == len(ids)
    prompt = eng.prompts[0]
    assert all(f"[{i}] " in prompt for i in ids) and prompt.rstrip().endswith("Answer:") and QUESTION in prompt
    assert eng.params[0].temperature == 0.0


def test_prompt_fits_the_context():
    eng = FakeEngine(max_context=300)
    posts = [(str(i), "word " * 200) for i in range(5)]
    prompt, used = build_prompt(eng, "a question?", posts, max_tokens=50)
    assert eng.count_tokens(prompt) <= 300 - 1 - 50 and used >= 1
    assert prompt.count("\n[") + prompt.startswith("[") == used


def test_a_context_without_room_for_a_post_is_refused(idx):
    with pytest.raises(InputError, match="holds no post"):  # room for 1 token beside the question
        events_of(idx, FakeEngine("x [101].", max_context=110), limit=2)


def test_a_small_context_keeps_fewer_posts_and_only_those_are_citable(idx):
    raw = "The rocket launch was delayed by high winds [101]. Launch day, the crowd cheered the rocket [102]."
    eng = FakeEngine(raw, max_context=190)  # about 40 bytes of posts: one post
    evs = events_of(idx, eng, limit=4)
    final = evs[-1]
    assert len(evs[0]["hits"]) >= 2 and final["posts_in_prompt"] == 1
    shown = evs[0]["hits"][0]["id"]
    assert f"[{shown}] " in eng.prompts[0] and eng.prompts[0].count("\n[") == 0
    assert final["citations"] in ([shown], [])
    assert final["removed"]["not_retrieved"] == 1  # the other post was retrieved but not given to the writer


def test_post_deleted_during_generation_cannot_be_cited(idx):
    raw = "The rocket launch was delayed by high winds [101]. The rocket finally lifted off [102]."
    eng = FakeEngine(raw, on_token=lambda i: idx.delete(["101"]) if i == 3 else None)
    final = answer(idx, eng, QUESTION)
    assert "101" in {h["id"] for h in final["hits"]}
    assert final["removed"]["deleted"] == 1 and final["citations"] == ["102"]


def test_budget_cuts_generation_with_a_fake_clock(idx):
    clock = FakeClock()
    raw = " ".join(["The rocket launch was delayed by high winds [101]."] * 10)
    eng = FakeEngine(raw, clock=clock, tick=0.1)
    evs = events_of(idx, eng, budget_ms=450, clock=clock)
    final = evs[-1]
    assert final["cut"] and final["finish_reason"] == "budget"
    assert eng.streamed == 5 and eng.aborted  # 0.1 s a token: the 5th token crosses 450 ms, then the stream closes
    assert len([e for e in evs if e["type"] == "delta"]) == 5


def test_budget_spent_before_generation_skips_it(idx):
    clock = FakeClock()

    class SlowSearch:  # retrieval alone takes the whole budget
        def __getattr__(self, name):
            return getattr(idx, name)

        def search(self, *a, **k):
            clock.t += 1.0
            return idx.search(*a, **k)

    eng = FakeEngine("The rocket launch was delayed [101].")
    final = events_of(SlowSearch(), eng, budget_ms=500, clock=clock)[-1]
    assert final["cut"] and final["finish_reason"] == "budget" and final["answer"] == NO_SUPPORT
    assert eng.prompts == []


def test_budget_with_a_really_slow_engine(idx):
    eng = FakeEngine(" ".join(["launch [101]."] * 40), sleep=0.05)
    final = events_of(idx, eng, budget_ms=150)[-1]
    assert final["cut"] and eng.streamed < 40 and eng.aborted


def test_max_tokens_bounds_the_answer(idx):
    eng = FakeEngine(" ".join(["The rocket launch was delayed [101]."] * 20))
    final = events_of(idx, eng, max_tokens=7)[-1]
    assert eng.streamed == 7 and final["finish_reason"] == "length" and not final["cut"]


def test_extractive_mode_needs_no_model(idx):
    evs = events_of(idx, None, mode="extractive")
    final = evs[-1]
    assert final["supported"] and final["mode"] == "extractive"
    assert set(final["citations"]) <= {"101", "102", "104"}
    for s in final["sentences"]:
        (pid,) = s["citations"]
        assert s["text"].removesuffix(f" [{pid}]") in POSTS[pid]
    assert [e["type"] for e in evs][:2] == ["hits", "delta"]


def test_no_hits_and_no_model(idx):
    final = answer(idx, FakeEngine("anything [101]."), "zebra")
    assert final["hits"] == [] and final["answer"] == NO_SUPPORT and final["finish_reason"] == "no_hits"
    with pytest.raises(Exception, match="need a model"):
        answer(idx, None, QUESTION)


def test_rerank_inside_answer(idx):
    eng = FakeEngine("The rocket launch was delayed by high winds [101].")
    final = events_of(idx, eng, rerank=4, limit=2)[-1]
    assert final["supported"] and final["posts_in_prompt"] <= 2
    assert any(ctx and QUESTION.split()[-1].rstrip("?") in ctx or ctx for _, ctx in eng.scored)


# ---------------------------------------------------------------------------------------------------- real engine
@pytest.fixture(scope="module")
def engine(run_dir):
    from warble.serve.engine import Engine

    e = Engine.load(run_dir, device="cpu", dtype="fp32", threads=1)
    yield e
    e.shutdown()


@pytest.fixture(scope="module")
def corpus_index(corpus_dir, tmp_path_factory):
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table().slice(0, 400)
    idx = SearchIndex.create(tmp_path_factory.mktemp("ans") / "idx", "none")
    idx.add(table)
    yield idx, table.column("text").to_pylist()
    idx.close()


def test_real_engine_answer_is_checked(engine, corpus_index):
    idx, texts = corpus_index
    words = [w for w in re.findall(r"[a-z]{5,}", " ".join(texts[:50]).lower())]
    query = max(set(words), key=words.count)
    for support in ("lexical", "model"):
        final = answer(idx, engine, query, AnswerOptions(max_tokens=24, support=support, seed=1))
        hit_ids = {h["id"] for h in final["hits"]}
        assert final["hits"] and set(final["citations"]) <= hit_ids
        assert final["raw"] and final["finish_reason"] in ("stop", "length")
        assert final["supported"] == (final["answer"] != NO_SUPPORT)
        kept = [s for s in final["sentences"] if s["supported"]]
        assert all(set(s["citations"]) <= hit_ids for s in final["sentences"])
        if final["supported"]:
            assert final["answer"] == " ".join(s["text"] for s in kept)


def test_real_engine_stream_deltas_make_the_raw_text(engine, corpus_index):
    idx, _ = corpus_index
    evs = list(answer_events(idx, engine, "the", AnswerOptions(max_tokens=16)))
    assert "".join(e["text"] for e in evs if e["type"] == "delta") == evs[-1]["raw"]


# ---------------------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cli_index(corpus_dir, run_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    assert main(["index", str(corpus_dir), "--model", str(run_dir), "--out", str(root / "idx"), "--no-progress"]) == 0
    assert main(["index", str(corpus_dir), "--embedder", "none", "--out", str(root / "lex"), "--no-progress"]) == 0
    return root


def test_cli_answer_json_with_the_recorded_model(cli_index, capsys):
    capsys.readouterr()
    assert main(["search", "--index", str(cli_index / "idx"), "what happened at the launch?", "--answer",
                 "--json", "--max-tokens", "16", "--no-log"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"answer", "supported", "citations", "sentences", "removed", "removed_citations", "raw", "cut",
            "finish_reason", "hits", "took_ms", "mode", "posts_in_prompt"} <= set(out)
    assert set(out["citations"]) <= {h["id"] for h in out["hits"]}
    assert not (cli_index / "idx" / "queries.sqlite").exists()


def test_cli_answer_streams_text_then_citations(cli_index, run_dir, capsys):
    capsys.readouterr()
    assert main(["search", "--index", str(cli_index / "idx"), "what happened at the launch?", "--answer",
                 "--model", str(run_dir), "--max-tokens", "12", "--budget-ms", "60000"]) == 0
    out = capsys.readouterr().out
    assert "-" * 40 in out and "posts retrieved" in out
    assert (cli_index / "idx" / "queries.sqlite").exists()  # logged (no --no-log)


def test_cli_extractive_answer_on_a_lexical_index(cli_index, capsys):
    capsys.readouterr()
    assert main(["search", "--index", str(cli_index / "lex"), "the", "--answer", "--answer-mode", "extractive",
                 "--json", "--no-log"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "extractive" and set(out["citations"]) <= {h["id"] for h in out["hits"]}


@pytest.mark.parametrize("args,msg", [
    (["--answer"], "needs a Warble model: pass --model RUN"),  # lexical index records no model
    (["--answer", "--model", "/nonexistent/run"], "does not exist"),
    (["--answer", "--budget-ms", "0"], "--budget-ms must be positive"),
    (["--suggest", "x"], "do not go together"),
])
def test_cli_answer_errors(cli_index, capsys, args, msg):
    capsys.readouterr()
    assert main(["search", "--index", str(cli_index / "lex"), "launch", *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_empty_query_and_no_query(cli_index, capsys):
    assert main(["search", "--index", str(cli_index / "lex"), "  ", "--answer", "--answer-mode", "extractive"]) == 2
    assert "empty query" in capsys.readouterr().err
    assert main(["search", "--index", str(cli_index / "lex")]) == 2
    assert "give a QUERY" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- HTTP
def app_with(index, engine):
    from warble.serve.routes.search_answer import make_router

    app = FastAPI()
    app.state.engine, app.state.index = engine, index
    install_error_handlers(app)
    app.include_router(make_router())
    return TestClient(app)


def sse_events(text: str) -> list:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            body = block[len("data: "):]
            out.append(body if body == "[DONE]" else json.loads(body))
    return out


def test_http_answer_json(idx):
    raw = "The rocket launch was delayed by high winds [101]. Noise [777]."
    c = app_with(idx, FakeEngine(raw))
    r = c.post("/v1/search/answer", json={"query": QUESTION, "log": False})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["citations"] == ["101"] and body["removed"]["not_retrieved"] == 1 and body["hits"]
    assert not (idx.path / "queries.sqlite").exists()
    r = c.post("/v1/search/answer", json={"query": QUESTION, "mode": "extractive", "posts": 2})
    assert r.status_code == 200 and r.json()["mode"] == "extractive"
    assert (idx.path / "queries.sqlite").exists()


def test_http_answer_stream_order(idx):
    raw = "The rocket launch was delayed by high winds [101]."
    c = app_with(idx, FakeEngine(raw))
    with c.stream("POST", "/v1/search/answer", json={"query": QUESTION, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        evs = sse_events(r.read().decode())
    assert evs[-1] == "[DONE]" and evs[0]["type"] == "hits" and evs[-2]["type"] == "answer"
    assert {e["type"] for e in evs[1:-2]} == {"delta"}
    assert "".join(e["text"] for e in evs[1:-2]) == raw and evs[-2]["citations"] == ["101"]


@pytest.mark.parametrize("body,status,word", [
    ({}, 400, "query"),
    ({"query": ""}, 400, "query"),
    ({"query": "   "}, 400, "empty query"),
    ({"query": "#ai (from:x"}, 400, "unbalanced parenthesis"),
    ({"query": "launch", "posts": 0}, 400, "posts"),
    ({"query": "launch", "mode": "poetic"}, 400, "mode"),
    ({"query": "launch", "budget_ms": -5}, 400, "budget_ms"),
    ({"query": "launch", "stream": "yes"}, 400, "stream"),
    ({"query": "launch", "max_token": 5}, 400, "max_token"),
    ({"query": "launch", "search_mode": "dense"}, 400, "dense"),
])
def test_http_answer_bad_requests(idx, body, status, word):
    r = app_with(idx, FakeEngine("x")).post("/v1/search/answer", json=body)
    assert r.status_code == status, r.text
    assert word in r.json()["error"]["message"]


def test_http_answer_without_index_is_404():
    r = app_with(None, FakeEngine("x")).post("/v1/search/answer", json={"query": "launch"})
    assert r.status_code == 404 and "no search index" in r.json()["error"]["message"]
