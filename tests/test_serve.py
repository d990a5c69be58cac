"""The HTTP server (`warble serve`): every route and error in process (TestClient), the official `openai` client
against a real uvicorn server, concurrency, limits, graceful shutdown of a real process, the CLI, and a smoke run
of the load benchmark. All against the real engine over the small trained `run_dir`, with small max_tokens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from warble.serve.app import ServeSettings, create_app
from warble.serve.security import KeyChecker, RateLimiter, load_api_keys
from warble.serve.types import SamplingParams

ROOT = Path(__file__).resolve().parents[1]
KEY, KEY2 = "test-key-1", "test-key-2"
AUTH = {"Authorization": f"Bearer {KEY}"}


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def engine(run_dir):
    from warble.serve.engine import Engine

    e = Engine.load(run_dir, device="cpu", max_batch=8)
    yield e
    e.shutdown()


def make_client(engine, **settings) -> TestClient:
    return TestClient(create_app(engine, ServeSettings(**settings)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def api(engine):
    """The default app with one API key."""
    with make_client(engine, api_keys=(KEY, KEY2)) as c:
        c.headers.update(AUTH)
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app):
    """A real uvicorn server for `app` in a thread, on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(10)


@pytest.fixture(scope="module")
def live(engine):
    """The app (same engine) behind real HTTP, for clients that speak it: the openai client, parallel streams."""
    with serving(create_app(engine, ServeSettings(api_keys=(KEY,), max_tokens_limit=64))) as base:
        yield base


def events(text: str) -> list:
    """Parse a server-sent event stream: the JSON objects, then the literal '[DONE]'."""
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            data = block[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def assert_error(r, status: int, param: str | None = None, contains: str = ""):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"] and contains.lower() in body["error"]["message"].lower(), body
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]


# ---------------------------------------------------------------------------------------------------- routes
def test_health_models_and_auth(api, engine):
    assert api.get("/health", headers={"Authorization": ""}).json() == {"status": "ok", "model": engine.model_id}
    r = api.get("/v1/models", headers={"Authorization": ""})
    assert r.headers["www-authenticate"] == "Bearer"
    assert assert_error(r, 401, contains="missing API key")["code"] == "invalid_api_key"
    assert_error(api.get("/v1/models", headers={"Authorization": "Bearer nope-nope"}), 401, contains="invalid")
    assert_error(api.get("/metrics", headers={"Authorization": "Basic " + KEY}), 401)
    assert_error(api.post("/v1/completions", json={"prompt": "x"}, headers={"Authorization": ""}), 401)
    models = api.get("/v1/models").json()
    assert models["object"] == "list"
    (card,) = models["data"]
    assert card["id"] == engine.model_id and card["object"] == "model" and card["max_model_len"] == engine.max_context
    assert api.get(f"/v1/models/{engine.model_id}", headers={"Authorization": f"Bearer {KEY2}"}).json() == card
    assert assert_error(api.get("/v1/models/gpt-4"), 404, "model")["code"] == "model_not_found"
    assert_error(api.get("/v1/nothing-here"), 404, contains="no route")
    assert_error(api.delete("/v1/models"), 405)


def test_completion_usage_and_seeds(api, engine):
    body = {"prompt": "just landed in", "max_tokens": 6, "seed": 7, "temperature": 0.9}
    r = api.post("/v1/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "text_completion" and out["id"].startswith("cmpl-") and out["model"] == engine.model_id
    (choice,) = out["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] in ("stop", "length") and choice["logprobs"] is None
    [direct] = engine.generate("just landed in", SamplingParams(max_tokens=6, seed=7, temperature=0.9))
    assert choice["text"] == direct.text  # the server adds nothing of its own to the engine's result
    u = out["usage"]
    assert u == {"prompt_tokens": direct.prompt_tokens, "completion_tokens": direct.completion_tokens,
                 "total_tokens": direct.prompt_tokens + direct.completion_tokens}
    assert 1 <= u["completion_tokens"] <= 6
    # n choices: choice i is what seed + i gives alone
    many = api.post("/v1/completions", json={**body, "n": 3}).json()
    assert [c["index"] for c in many["choices"]] == [0, 1, 2]
    assert many["choices"][0]["text"] == choice["text"]
    alone = api.post("/v1/completions", json={**body, "seed": 9}).json()["choices"][0]["text"]
    assert many["choices"][2]["text"] == alone
    assert many["usage"]["prompt_tokens"] == u["prompt_tokens"]  # the prompt counts once, as OpenAI counts it


def test_prompt_forms(api, engine):
    tok = engine.tokenizer
    greedy = {"max_tokens": 5, "temperature": 0}
    text = api.post("/v1/completions", json={"prompt": "new phone", **greedy}).json()["choices"][0]["text"]
    ids = [tok.bos_id, *tok.encode("new phone")]  # token-id prompts are used as given: [bos] is the caller's
    assert api.post("/v1/completions", json={"prompt": ids, **greedy}).json()["choices"][0]["text"] == text
    out = api.post("/v1/completions", json={"prompt": [ids, [tok.bos_id, *tok.encode("hello")]], **greedy}).json()
    assert out["choices"][0]["text"] == text and len(out["choices"]) == 2
    out = api.post("/v1/completions", json={"prompt": ["new phone", "hello", "x"], "n": 2, **greedy}).json()
    assert [c["index"] for c in out["choices"]] == list(range(6))  # prompt-major, as OpenAI orders them
    assert out["choices"][0]["text"] == out["choices"][1]["text"] == text
    assert api.post("/v1/completions", json={"prompt": "", "max_tokens": 3}).status_code == 200  # a post from nothing


def test_logprobs_echo_and_scoring(api):
    out = api.post("/v1/completions", json={"prompt": "good morning", "max_tokens": 4, "logprobs": 2,
                                            "seed": 1}).json()
    (c,) = out["choices"]
    lp = c["logprobs"]
    n = out["usage"]["completion_tokens"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]) == n
    assert "".join(lp["tokens"]) == c["text"]
    assert lp["text_offset"] == sorted(lp["text_offset"]) and lp["text_offset"][0] == 0
    for token, logprob, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
        assert logprob <= 0 and top[token] == logprob and 2 <= len(top) <= 3  # the chosen token always listed
    # echo + max_tokens 0 + logprobs: score the prompt
    scored = api.post("/v1/completions", json={"prompt": "good morning everyone", "max_tokens": 0, "echo": True,
                                               "logprobs": 0}).json()
    (c,) = scored["choices"]
    assert c["text"] == "good morning everyone" and scored["usage"]["completion_tokens"] == 0
    lp = c["logprobs"]
    assert "".join(lp["tokens"]).endswith("good morning everyone")
    assert all(x is None or x <= 0 for x in lp["token_logprobs"]) and lp["token_logprobs"][-1] is not None
    # echo while generating: the prompt, then the completion
    out = api.post("/v1/completions", json={"prompt": "good morning", "max_tokens": 3, "echo": True}).json()
    assert out["choices"][0]["text"].startswith("good morning")
    assert_error(api.post("/v1/completions", json={"prompt": "x", "max_tokens": 0}), 400, contains="max_tokens")


def test_stop_strings(api):
    greedy = {"prompt": "the game tonight", "max_tokens": 12, "temperature": 0}
    text = api.post("/v1/completions", json=greedy).json()["choices"][0]["text"]
    stop = text[len(text) // 2:len(text) // 2 + 2]
    assert stop.strip(), text
    out = api.post("/v1/completions", json={**greedy, "stop": [stop, "zzzzqqq"]}).json()["choices"][0]
    assert out["text"] == text[:text.index(stop)] and out["finish_reason"] == "stop"
    assert api.post("/v1/completions", json={**greedy, "stop": stop}).json()["choices"][0]["text"] == out["text"]


def test_sampling_extras_and_conditions(api):
    body = {"prompt": "so", "max_tokens": 4, "seed": 3, "top_k": 20, "min_p": 0.05, "repetition_penalty": 1.3,
            "top_p": 0.9, "conditions": {"lang": "en", "reply": True, "engagement": 12, "topic": "sports"}}
    r = api.post("/v1/completions", json=body)
    assert r.status_code == 200, r.text
    plain = api.post("/v1/completions", json={**body, "conditions": None}).json()
    assert r.json()["usage"]["prompt_tokens"] == plain["usage"]["prompt_tokens"] + 4  # four control tokens
    assert api.post("/v1/completions", json={**body, "top_k": -1}).status_code == 200  # vLLM's "off"
    assert_error(api.post("/v1/completions", json={**body, "conditions": {"mood": "happy"}}), 400, "conditions.mood")


def test_streaming(api):
    body = {"prompt": "just landed in", "max_tokens": 6, "seed": 11, "logprobs": 1}
    whole = api.post("/v1/completions", json=body).json()
    r = api.post("/v1/completions", json={**body, "stream": True, "stream_options": {"include_usage": True}})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    ev = events(r.text)
    assert ev[-1] == "[DONE]"
    *chunks, usage = ev[:-1]
    assert usage["choices"] == [] and usage["usage"] == whole["usage"]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["choices"][0]["text"]
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == whole["choices"][0]["finish_reason"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    tokens = [t for c in chunks if c["choices"][0]["logprobs"] for t in c["choices"][0]["logprobs"]["tokens"]]
    assert tokens == whole["choices"][0]["logprobs"]["tokens"]
    # several choices interleave, each with its own index, and each ends once
    ev = events(api.post("/v1/completions", json={"prompt": ["a", "b"], "n": 2, "max_tokens": 3, "stream": True,
                                                  "seed": 0}).text)
    assert ev[-1] == "[DONE]" and not any("usage" in e and e["usage"] for e in ev[:-1])
    ends = [e["choices"][0]["index"] for e in ev[:-1] if e["choices"][0]["finish_reason"]]
    assert sorted(ends) == [0, 1, 2, 3]
    assert_error(api.post("/v1/completions", json={**body, "stream_options": {"include_usage": True}}), 400,
                 "stream_options")


def test_embeddings(api, engine):
    texts = ["the match was great", "new phone who dis", "rain again"]
    r = api.post("/v1/embeddings", json={"input": texts})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "list" and out["model"] == engine.model_id
    vecs = np.array([d["embedding"] for d in out["data"]], dtype=np.float32)
    assert [d["index"] for d in out["data"]] == [0, 1, 2] and vecs.shape == (3, engine.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(vecs, engine.embed(texts), atol=1e-5)
    assert out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] == sum(
        len(engine.tokenizer.encode(t)) for t in texts)
    b64 = api.post("/v1/embeddings", json={"input": texts, "encoding_format": "base64"}).json()
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in b64["data"]])
    np.testing.assert_array_equal(decoded, vecs)
    alone = engine.embed(texts[:1])[0]  # (packed with others, a text's vector differs in the 3rd decimal)
    one = api.post("/v1/embeddings", json={"input": texts[0], "dimensions": engine.embedding_dim}).json()
    np.testing.assert_allclose(one["data"][0]["embedding"], alone, atol=1e-6)
    ids = api.post("/v1/embeddings", json={"input": engine.tokenizer.encode(texts[0])}).json()  # decoded to text
    np.testing.assert_allclose(ids["data"][0]["embedding"], alone, atol=1e-6)
    assert_error(api.post("/v1/embeddings", json={"input": texts, "dimensions": 3}), 400, "dimensions")
    assert_error(api.post("/v1/embeddings", json={"input": ["ok", ""]}), 400, "input")
    assert_error(api.post("/v1/embeddings", json={"input": []}), 400, "input")
    assert_error(api.post("/v1/embeddings", json={"input": "x", "encoding_format": "int8"}), 400, "encoding_format")
    assert_error(api.post("/v1/embeddings", json={"input": "x", "model": "ada"}), 404, "model")


# ---------------------------------------------------------------------------------------------------- bad input
BAD = [
    # (raw body, status, param, words in the message)
    (b"{bad json", 400, None, "malformed JSON"),
    (b'{"prompt": "x",}', 400, None, "malformed JSON"),
    (b"[1, 2, 3]", 400, None, "JSON object"),
    (b'"just a string"', 400, None, "JSON object"),
    (b"", 400, None, "JSON body"),
    (b"{}", 400, "prompt", "required"),
    (b'{"prompt": 5}', 400, "prompt", "must be a string"),
    (b'{"prompt": []}', 400, "prompt", "must be a string"),
    (b'{"prompt": [1, "a"]}', 400, "prompt", "must be a string"),
    (b'{"prompt": [true]}', 400, "prompt", "must be a string"),
    (b'{"prompt": [[1, 99999]]}', 400, "prompt", "vocabulary"),
    (b'{"prompt": [-1]}', 400, "prompt", "vocabulary"),
    (b'{"prompt": "x", "max_tokens": "ten"}', 400, "max_tokens", "integer"),
    (b'{"prompt": "x", "max_tokens": 1.5}', 400, "max_tokens", "integer"),
    (b'{"prompt": "x", "max_tokens": -1}', 400, "max_tokens", "greater than"),
    (b'{"prompt": "x", "max_tokens": 100000}', 400, "max_tokens", "at most 256"),
    (b'{"prompt": "x", "temperature": "hot"}', 400, "temperature", "number"),
    (b'{"prompt": "x", "temperature": -0.5}', 400, "temperature", "greater than"),
    (b'{"prompt": "x", "temperature": true}', 400, "temperature", "number"),
    (b'{"prompt": "x", "temperature": "0.5"}', 400, "temperature", "number"),
    (b'{"prompt": "x", "temperature": NaN}', 400, "temperature", ""),
    (b'{"prompt": "x", "repetition_penalty": Infinity}', 400, None, "repetition_penalty"),
    (b'{"prompt": "x", "seed": 1180591620717411303424}', 400, "seed", "less than"),
    (b'{"prompt": "x", "temperature": 5}', 400, "temperature", "less than"),
    (b'{"prompt": "x", "top_p": 0}', 400, "top_p", "greater than"),
    (b'{"prompt": "x", "top_p": 1.5}', 400, "top_p", "less than"),
    (b'{"prompt": "x", "min_p": 1}', 400, "min_p", "less than"),
    (b'{"prompt": "x", "repetition_penalty": 0}', 400, "repetition_penalty", "greater than"),
    (b'{"prompt": "x", "n": 0}', 400, "n", "greater than"),
    (b'{"prompt": "x", "n": 99}', 400, "n", "at most 16"),
    (b'{"prompt": "x", "logprobs": 21}', 400, "logprobs", "less than"),
    (b'{"prompt": "x", "logprobs": true}', 400, "logprobs", "integer"),
    (b'{"prompt": "x", "stop": 3}', 400, "stop", "must be a string"),
    (b'{"prompt": "x", "stop": [""]}', 400, None, "stop"),
    (b'{"prompt": "x", "seed": "abc"}', 400, "seed", "integer"),
    (b'{"prompt": "x", "stream": "yes please"}', 400, "stream", "boolean"),
    (b'{"prompt": "x", "echo": 1}', 400, "echo", "boolean"),
    (b'{"prompt": "x", "max_token": 5}', 400, "max_token", "unknown parameter"),
    (b'{"prompt": "x", "presence_penalty": 0.5}', 400, "presence_penalty", "not supported"),
    (b'{"prompt": "x", "logit_bias": {"5": 1}}', 400, "logit_bias", "not supported"),
    (b'{"prompt": "x", "best_of": 3}', 400, "best_of", "not supported"),
    (b'{"prompt": "x", "conditions": {"engagement": -3}}', 400, "conditions", "greater than"),
    (b'{"prompt": "x", "conditions": "en"}', 400, "conditions", ""),
    (b'{"prompt": [1, 2], "conditions": {"lang": "en"}}', 400, None, "conditions"),
    (b'{"prompt": "x", "model": "gpt-3.5-turbo-instruct"}', 404, "model", "does not exist"),
    (b'{"prompt": ["a", "b", "c", "d", "e"], "n": 8}', 400, "prompt", "limit"),
]


@pytest.mark.parametrize("raw,status,param,words", BAD, ids=[b[0].decode()[:40] for b in BAD])
def test_bad_requests_are_4xx_with_a_message(engine, raw, status, param, words):
    with make_client(engine, max_tokens_limit=256, max_inputs=32) as c:
        r = c.post("/v1/completions", content=raw, headers={"Content-Type": "application/json"})
        err = assert_error(r, status, param, words)
        assert err["type"] == "invalid_request_error"


def test_too_long_prompts_are_400(api, engine):
    long_ids = [engine.tokenizer.bos_id] + [5] * (engine.max_context + 10)
    assert_error(api.post("/v1/completions", json={"prompt": long_ids, "max_tokens": 2}), 400, "prompt", "context")
    assert_error(api.post("/v1/completions", json={"prompt": long_ids, "max_tokens": 2, "stream": True}), 400,
                 "prompt", "context")
    long_text = "word " * (engine.max_context * 2)
    assert_error(api.post("/v1/completions", json={"prompt": long_text}), 400, "prompt", "context")
    assert_error(api.post("/v1/embeddings", json={"input": ["short", long_text]}), 400, "input", "context")


def test_wrong_content_type_and_methods(api):
    r = api.post("/v1/completions", content=b'{"prompt": "x"}', headers={"Content-Type": "text/plain"})
    assert_error(r, 400, contains="JSON")
    assert_error(api.get("/v1/completions"), 405)


def test_unexpected_errors_are_500_with_openai_body(engine):
    class Broken:
        """The real engine, except that generation fails the way a bug would."""

        def __getattr__(self, name):
            return getattr(engine, name)

        async def agenerate(self, prompt, params):
            raise RuntimeError("boom: a bug, not the client's fault")

    with TestClient(create_app(Broken()), raise_server_exceptions=False) as c:
        r = c.post("/v1/completions", json={"prompt": "x", "max_tokens": 2})
        err = assert_error(r, 500, contains="internal server error")
        assert err["type"] == "server_error" and "boom" not in r.text  # details stay in the server's log
        assert c.get("/health").status_code == 200


# ---------------------------------------------------------------------------------------------------- limits
def test_request_body_limit_413(engine):
    with make_client(engine, max_request_bytes=2000, api_keys=(KEY,)) as c:
        big = {"prompt": "x" * 5000, "max_tokens": 1}
        err = assert_error(c.post("/v1/completions", json=big, headers=AUTH), 413, contains="limit")
        assert err["code"] == "request_too_large"

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 500
            yield json.dumps(big).encode()

        r = c.post("/v1/completions", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
        assert_error(r, 413, contains="limit")
        assert c.post("/v1/completions", json={"prompt": "x" * 100, "max_tokens": 1}, headers=AUTH).status_code == 200
        # unauthenticated clients learn nothing, not even the limit
        assert c.post("/v1/completions", json=big).status_code == 401


def test_rate_limit_429_per_key(engine):
    with make_client(engine, api_keys=(KEY, KEY2), rate_limit=2) as c:
        ok = [c.get("/v1/models", headers=AUTH).status_code for _ in range(2)]
        assert ok == [200, 200]
        r = c.get("/v1/models", headers=AUTH)
        err = assert_error(r, 429, contains="rate limit")
        assert err["code"] == "rate_limit_exceeded" and 1 <= int(r.headers["retry-after"]) <= 30
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {KEY2}"}).status_code == 200  # its own bucket
        assert c.get("/health").status_code == 200  # never limited


def test_token_bucket_refills():
    now = [0.0]
    lim = RateLimiter(60, burst=2, clock=lambda: now[0])  # one a second, two at once
    assert [lim.acquire("a"), lim.acquire("a")] == [0, 0]
    assert lim.acquire("a") == pytest.approx(1.0)
    now[0] += 0.5
    assert lim.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert lim.acquire("a") == 0 and lim.acquire("b") == 0
    now[0] += 100
    assert [lim.acquire("a"), lim.acquire("a"), lim.acquire("a") > 0] == [0, 0, True]  # refills to burst, no more
    assert not RateLimiter(0).enabled and RateLimiter(0).acquire("x") == 0


def test_api_keys_sources(tmp_path):
    f = tmp_path / "keys.txt"
    f.write_text("# team keys\nfile-key-1\n\nfile-key-2\n")
    keys = load_api_keys(["flag-key"], f, env={"WARBLE_API_KEYS": "env-key-1, env-key-2,flag-key"})
    assert keys == ("flag-key", "file-key-1", "file-key-2", "env-key-1", "env-key-2")
    checker = KeyChecker(keys)
    assert checker.check("Bearer env-key-2") and checker.check("bearer file-key-1")
    assert checker.check("Bearer flag-ke") is None and checker.check("flag-key") is None
    assert checker.check(None) is None and not KeyChecker(()).enabled
    assert KEY not in checker.check("Bearer flag-key")  # logs see a fingerprint, not the key
    from warble.errors import ConfigError

    with pytest.raises(ConfigError):
        load_api_keys(["has space"], env={})
    with pytest.raises(ConfigError):
        load_api_keys([], tmp_path / "missing.txt", env={})


# ---------------------------------------------------------------------------------------------------- observability
def test_metrics(api):
    api.post("/v1/completions", json={"prompt": "count me", "max_tokens": 2})
    api.get("/v1/models", headers={"Authorization": "Bearer wrong-key"})
    text = api.get("/metrics").text
    assert 'warble_http_requests_total{method="POST",route="/v1/completions",status="200"}' in text
    assert 'warble_http_requests_total{method="GET",route="/v1/models",status="401"}' in text
    assert 'route="/v1/models/{model_id:path}"' in text  # templates, not raw paths
    for name in ("warble_http_request_duration_seconds_bucket", "warble_prompt_tokens_total",
                 "warble_completion_tokens_total", "warble_engine_running", "warble_engine_waiting",
                 "warble_engine_generated_tokens_total", "warble_http_requests_in_flight",
                 "warble_time_to_first_token_seconds_bucket", "warble_completions_finished_total"):
        assert name in text, name


def test_openapi_and_docs(engine, api):
    with make_client(engine) as c:  # no keys: the docs are open
        spec = c.get("/openapi.json").json()
        assert {"/v1/completions", "/v1/embeddings", "/v1/models", "/health", "/metrics"} <= set(spec["paths"])
        assert "CompletionRequest" in spec["components"]["schemas"]
        assert c.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()  # with keys: the spec says how to authenticate
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    assert api.get("/openapi.json", headers={"Authorization": ""}).status_code == 401


def test_prompts_are_not_logged_unless_asked(engine, caplog):
    secret = "my phone number is 5550100 zebra"
    with caplog.at_level("DEBUG", logger="warble.serve"), make_client(engine) as c:
        assert c.post("/v1/completions", json={"prompt": secret, "max_tokens": 2}).status_code == 200
        assert c.post("/v1/completions", json={"prompt": secret, "max_tokens": 2, "stream": True}).status_code == 200
    assert "POST /v1/completions 200" in caplog.text and "prompt_tokens=" in caplog.text
    assert "zebra" not in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="warble.serve"), make_client(engine, log_prompts=True) as c:
        c.post("/v1/completions", json={"prompt": secret, "max_tokens": 2})
    assert "zebra" in caplog.text


# ---------------------------------------------------------------------------------------------------- real HTTP
def test_openai_client(live, engine):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{live}/v1", api_key=KEY, max_retries=0, timeout=30)
    assert [m.id for m in client.models.list()] == [engine.model_id]
    assert client.models.retrieve(engine.model_id).id == engine.model_id
    c = client.completions.create(model=engine.model_id, prompt="just landed in", max_tokens=5, seed=7, n=2,
                                  logprobs=2, extra_body={"top_k": 40, "conditions": {"lang": "en"}})
    assert len(c.choices) == 2 and c.usage.completion_tokens >= 2
    assert c.choices[0].logprobs.tokens and c.choices[0].logprobs.text_offset[0] == 0
    pieces = list(client.completions.create(model=engine.model_id, prompt="just landed in", max_tokens=5, seed=7,
                                            stream=True, stream_options={"include_usage": True},
                                            extra_body={"top_k": 40, "conditions": {"lang": "en"}}))
    assert "".join(p.choices[0].text for p in pieces if p.choices) == c.choices[0].text  # choice 0 has seed 7
    assert pieces[-1].choices == [] and pieces[-1].usage.prompt_tokens == c.usage.prompt_tokens
    scored = client.completions.create(model=engine.model_id, prompt="good morning", max_tokens=0, echo=True,
                                       logprobs=1)
    assert scored.choices[0].text == "good morning"
    e = client.embeddings.create(model=engine.model_id, input=["hello there", "bye"])  # base64 under the hood
    assert len(e.data) == 2 and len(e.data[0].embedding) == engine.embedding_dim
    f = client.embeddings.create(model=engine.model_id, input="hello there", encoding_format="float")
    np.testing.assert_allclose(e.data[0].embedding, f.data[0].embedding, atol=1e-6)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{live}/v1", api_key="wrong-key", max_retries=0).models.list()
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.completions.create(model=engine.model_id, prompt="x", max_tokens=10_000)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x", max_tokens=2)


def test_parallel_streams_all_complete(live, engine):
    def one(i: int):
        with httpx.Client(base_url=live, headers=AUTH, timeout=60) as h:
            r = h.post("/v1/completions", json={"prompt": f"post number {i}", "max_tokens": 12, "seed": i,
                                                "stream": True, "stream_options": {"include_usage": True}})
            return r.status_code, events(r.text)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    for status, ev in results:
        assert status == 200 and ev[-1] == "[DONE]" and ev[-2]["usage"]["completion_tokens"] <= 12
        assert ev[-3]["choices"][0]["finish_reason"] in ("stop", "length")  # each stream ran to its end
    # a direct, non-streamed request with the same seed gives the same text as its stream did
    ref = httpx.post(f"{live}/v1/completions", headers=AUTH, json={"prompt": "post number 3", "max_tokens": 12,
                                                                   "seed": 3}).json()["choices"][0]["text"]
    assert "".join(e["choices"][0]["text"] for e in results[3][1][:-2]) == ref


class SlowEngine:
    """The real engine, slowed down (a pause before each streamed piece, and after each completion), recording
    whether the server closed the stream or cancelled the call when its client went away."""

    def __init__(self, engine):
        self.engine, self.closed_early, self.cancelled = engine, [], []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    async def astream(self, prompt, params):
        finished = False
        try:
            async for d in self.engine.astream(prompt, params):
                await asyncio.sleep(0.05)
                yield d
            finished = True
        finally:
            self.closed_early.append(not finished)

    async def agenerate(self, prompt, params):
        try:
            out = await self.engine.agenerate(prompt, params)
            await asyncio.sleep(10)
            return out
        except asyncio.CancelledError:
            self.cancelled.append(True)
            raise


def test_client_gone_aborts_its_requests(engine):
    slow = SlowEngine(engine)
    with serving(create_app(slow)) as base:
        body = {"prompt": "long one", "max_tokens": 50, "stream": True, "temperature": 0}
        with httpx.Client(base_url=base, timeout=30) as h, h.stream("POST", "/v1/completions", json=body) as r:
            next(r.iter_lines())
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/v1/completions", json={"prompt": "x", "max_tokens": 2}, timeout=0.3)
        deadline = time.time() + 5
        while not (slow.closed_early and slow.cancelled) and time.time() < deadline:
            time.sleep(0.02)
    assert slow.closed_early == [True] and slow.cancelled == [True]


# ---------------------------------------------------------------------------------------------------- processes
def _start(args: list[str], env_extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    p = subprocess.Popen([sys.executable, "-m", *args, "--port", str(port), "--device", "cpu"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if p.poll() is not None:
            raise AssertionError(f"server exited {p.returncode}: {p.stderr.read()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return p, base
        except httpx.HTTPError:
            time.sleep(0.1)
    p.kill()
    raise AssertionError("server did not come up in 60 s")


def _in_flight(base: str) -> int:
    """Requests the server is handling, from its own gauge (less the /metrics request asking)."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    line = next(ln for ln in text.splitlines() if ln.startswith("warble_http_requests_in_flight "))
    return int(float(line.split()[1])) - 1


@pytest.mark.timeout(120)
def test_graceful_shutdown_finishes_in_flight_requests(run_dir):
    """SIGTERM while a long request runs and four streams wait behind it (--max-batch 1): every one of them
    completes with 200 and its whole output, new connections are refused, and the process exits 0."""
    p, base = _start(["warble.serve.app", "--model", str(run_dir), "--max-batch", "1"])
    try:
        greedy = {"max_tokens": 100, "temperature": 0}
        long = {"prompt": "the long goodbye", "n": 8, **greedy}  # 8 x 100 tokens, one sequence at a time
        streams = [{"prompt": p, "stream": True, "stream_options": {"include_usage": True}, **greedy}
                   for p in ("the long goodbye", "and another", "hello", "good morning")]
        with ThreadPoolExecutor(5) as pool:
            first = pool.submit(httpx.post, f"{base}/v1/completions", json=long, timeout=60)
            deadline = time.time() + 10
            while _in_flight(base) < 1 and time.time() < deadline:
                time.sleep(0.005)
            rest = [pool.submit(httpx.post, f"{base}/v1/completions", json=b, timeout=60) for b in streams]
            while _in_flight(base) < 5 and time.time() < deadline:
                time.sleep(0.005)
            assert _in_flight(base) == 5 and not first.done()
            p.send_signal(signal.SIGTERM)
            r = first.result(timeout=60)
            assert r.status_code == 200, r.text
            choices = r.json()["choices"]
            assert len(choices) == 8 and all(c["finish_reason"] in ("stop", "length") for c in choices)
            assert r.json()["usage"]["completion_tokens"] >= 8
            for f in rest:
                r = f.result(timeout=60)
                ev = events(r.text)
                assert r.status_code == 200 and ev[-1] == "[DONE]", r.text[-500:]
                done = [e for e in ev[:-1] if e["choices"] and e["choices"][0]["finish_reason"]]
                assert len(done) == 1 and ev[-2]["usage"]["completion_tokens"] >= 1
                n = ev[-2]["usage"]["completion_tokens"]
                assert n == 100 or done[0]["choices"][0]["finish_reason"] == "stop"
        assert p.wait(timeout=60) == 0
        err = p.stderr.read()
        assert "Waiting for connections to close" in err, err[-2000:]  # the signal did find requests in flight
        assert "shutting down the engine" in err
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health", timeout=2)
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.timeout(120)
def test_warble_serve_cli_end_to_end(run_dir, tmp_path, search_index):
    """`python -m warble serve` (the CLI) with keys from a flag and the environment and a search index; SIGINT stops
    it cleanly."""
    openai = pytest.importorskip("openai")
    p, base = _start(["warble", "serve", "--model", str(run_dir), "--api-key", "secret", "--max-tokens-limit", "32",
                      "--rate-limit", "600", "--max-request-bytes", "4096", "--index", str(search_index.path)],
                     {"WARBLE_API_KEYS": "from-env-key"})
    try:
        r = httpx.post(f"{base}/v1/search", headers={"Authorization": "Bearer secret"},
                       json={"query": "-filter:replies", "mode": "lexical", "limit": 3})
        assert r.status_code == 200 and len(r.json()["hits"]) == 3
        for key in ("secret", "from-env-key"):
            client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=30)
            out = client.completions.create(model=run_dir.name, prompt="hello", max_tokens=4, seed=1)
            assert out.choices[0].finish_reason in ("stop", "length")
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="nope", max_retries=0).models.list()
        with pytest.raises(openai.BadRequestError):
            client.completions.create(model=run_dir.name, prompt="hello", max_tokens=33)
        r = httpx.post(f"{base}/v1/completions", headers={"Authorization": "Bearer secret"},
                       json={"prompt": "x" * 5000})
        assert r.status_code == 413
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0
        err = p.stderr.read()
        assert "secret" not in err and "from-env-key" not in err  # keys never reach the log
        assert "POST /v1/completions 200" in err
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.timeout(120)
def test_serve_load_benchmark_smoke(run_dir, tmp_path):
    """benchmarks/serve_load.py for a few seconds with two clients: one JSON object on stdout, no errors."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--model", str(run_dir), "--clients", "2",
         "--duration", "3", "--max-tokens", "8", "--json"],
        check=False, capture_output=True, text=True, timeout=110, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    for key in ("requests_per_s", "p50_ms", "p99_ms", "errors", "requests", "clients", "duration_s", "tokens_per_s",
                "ttft_p50_ms"):
        assert key in out, key
    assert out["errors"] == 0 and out["requests"] > 0 and out["clients"] == 2
    assert out["requests_per_s"] > 0 and 0 < out["p50_ms"] <= out["p99_ms"] and out["tokens_per_s"] > 0


def test_health_reports_draining_once_the_engine_shuts_down(run_dir):
    from warble.serve.engine import Engine

    e = Engine.load(run_dir, max_batch=1)
    client = make_client(e)
    assert client.get("/health").status_code == 200
    e.shutdown()
    r = client.get("/health")
    assert r.status_code == 503 and r.json()["status"] == "draining"


# ---------------------------------------------------------------------------------------------------- /v1/search
@pytest.fixture(scope="module")
def search_index(corpus_dir, tmp_path_factory):
    from warble.search.index.build import index_corpus
    from warble.search.index import SearchIndex

    out = tmp_path_factory.mktemp("search") / "idx"
    index_corpus(str(corpus_dir), out, embedder="none", progress=False)
    idx = SearchIndex.open(out, readonly=True)
    yield idx
    idx.close()


def test_search_endpoint_matches_the_index(engine, search_index):
    client = make_client(engine, api_keys=(KEY,))
    assert_error(client.post("/v1/search", json={"query": "the"}, headers=AUTH), 404, contains="no search index")
    client = TestClient(create_app(engine, ServeSettings(api_keys=(KEY,)), search_index),
                        raise_server_exceptions=False)
    word = next(w for h in search_index.search("-filter:replies", mode="lexical", limit=50)
                for w in h.text.lower().split() if w.isalpha() and len(w) > 4)
    r = client.post("/v1/search", json={"query": f"{word} -filter:replies", "mode": "lexical", "limit": 5},
                    headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = search_index.search(f"{word} -filter:replies", mode="lexical", limit=5)
    assert [h["id"] for h in body["hits"]] == [h.id for h in expected] and body["hits"]
    assert body["object"] == "search.result" and body["parsed"] == f"{word} -filter:replies"
    assert all(h["reply_to_id"] is None for h in body["hits"]) and body["took_ms"] >= 0
    # searches are logged for autocomplete (after the response), unless the request says not to
    r = client.post("/v1/search", json={"query": f"{word} secretquery", "mode": "lexical", "log": False}, headers=AUTH)
    assert r.status_code == 200
    done = client.post("/v1/search/complete", json={"text": word[:3], "limit": 20}, headers=AUTH).json()
    texts = [(c["text"], c["source"]) for c in done["completions"]]
    assert (f"{word} -filter:replies", "queries") in texts and not any("secretquery" in t for t, _ in texts)
    quiet = TestClient(create_app(engine, ServeSettings(api_keys=(KEY,), query_log=False), search_index))
    assert quiet.post("/v1/search", json={"query": f"{word} unlogged", "mode": "lexical"}, headers=AUTH).status_code == 200
    done = client.post("/v1/search/complete", json={"text": word[:3], "limit": 20}, headers=AUTH).json()
    assert not any("unlogged" in c["text"] for c in done["completions"])  # warble serve --no-query-log
    assert_error(client.post("/v1/search", json={"query": "(unclosed"}), 401)  # the same auth as every route
    err = assert_error(client.post("/v1/search", json={"query": "#ai (from:x"}, headers=AUTH), 400)
    assert err["param"] == "query" and "at 4" in err["message"]
    for bad in ({"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "limit": 101}, {"query": "x", "mode": "fuzzy"},
                {"query": 3}, {"query": "x", "extra": 1}, {"query": "x", "log": "no"}):
        assert_error(client.post("/v1/search", json=bad, headers=AUTH), 400)
    err = assert_error(client.post("/v1/search", json={"query": "x", "mode": "dense"}, headers=AUTH), 400)
    assert "lexical" in err["message"]  # an index built without embeddings says which mode works


def test_serve_refuses_a_missing_index_before_loading(run_dir, tmp_path, capsys):
    from warble.cli import main

    assert main(["serve", "--model", str(run_dir), "--index", str(tmp_path / "none"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "none" in err and "Traceback" not in err



def test_stage_routes_are_served_behind_the_same_auth(engine, search_index, run_dir, tmp_path):
    """create_app includes the search-answer, suggestion and ads routers: keys, error bodies and the shared engine,
    index and ads tools (warble.serve.serve_cli.ads_tools) reach them."""
    from warble.serve.serve_cli import ads_tools

    ads = ads_tools(engine, str(run_dir), None, str(tmp_path / "drafts"))
    assert ads["safety"] is not None and ads["guard"] is not None and ads["engagement"] is None
    client = TestClient(create_app(engine, ServeSettings(api_keys=(KEY,)), search_index, ads),
                        raise_server_exceptions=False)
    for route in ("/v1/search/answer", "/v1/search/suggest", "/v1/search/complete", "/v1/ads/generate",
                  "/v1/ads/audience"):
        assert_error(client.post(route, json={}), 401)
    r = client.post("/v1/search/answer", json={"query": "the match", "mode": "extractive", "log": False}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert {"answer", "citations", "hits"} <= set(r.json())
    assert_error(client.post("/v1/ads/generate", json={"brief": {"brand": "Acme"}}, headers=AUTH), 400, "product")
    r = client.post("/v1/ads/generate", json={"brief": {"product": "Acme phone"}, "n": 2}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["candidates"] or body["rejected"]
    assert all(c["status"] in ("draft", "rejected") for c in body["candidates"] + body["rejected"])
    assert body["drafts"] and (tmp_path / "drafts").is_dir()  # nothing is published without review
    paths = set(client.get("/openapi.json", headers=AUTH).json()["paths"])
    assert {"/v1/search/answer", "/v1/ads/generate", "/v1/ads/audience", "/v1/search/suggest"} <= paths
