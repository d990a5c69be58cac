"""API keys, per-key rate limits and the request size limit, as one ASGI middleware in front of every route.

Checked in this order, before the request body is read: Bearer key (401), rate limit (429 with Retry-After), body
size (413; by Content-Length, and by counting the bytes of a body sent without one). `/health` is exempt from all
three so load balancers and orchestrators can probe without a key. Keys are compared in constant time, and only a
short fingerprint of a key (never the key) reaches logs and metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warble.errors import ConfigError
from warble.serve.protocol import error_body

KEYS_ENV = "WARBLE_API_KEYS"  # comma-separated keys: keeps them out of the process list (`ps`) and shell history
PUBLIC_PATHS = frozenset({"/health"})


def load_api_keys(keys: list[str] | None = None, key_file: str | Path | None = None,
                  env: dict[str, str] | None = None) -> tuple[str, ...]:
    """Keys from flags, a file (one per line, # comments) and $WARBLE_API_KEYS, deduplicated, order kept."""
    env = os.environ if env is None else env
    found = list(keys or [])
    if key_file:
        path = Path(key_file)
        if not path.is_file():
            raise ConfigError(f"--api-key-file {path}: no such file")
        found += [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    found += [k.strip() for k in env.get(KEYS_ENV, "").split(",") if k.strip()]
    for k in found:
        if any(c.isspace() or not c.isprintable() for c in k):
            raise ConfigError("an API key must be printable characters without whitespace")
    return tuple(dict.fromkeys(found))


def key_id(key: str) -> str:
    """What logs and metrics say instead of a key: a fingerprint that identifies it without revealing it."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


class KeyChecker:
    """Bearer-token check against a fixed set of keys, in time independent of which key (if any) matches."""

    def __init__(self, keys: tuple[str, ...]):
        # Comparing fixed-length digests hides the keys' lengths as well as their contents.
        self._digests = [(hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: str | None) -> str | None:
        """The matching key's id, or None. Every key is compared, so timing says nothing about which matched."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = hashlib.sha256(token.strip().encode()).digest()
        match = None
        for digest, kid in self._digests:
            if hmac.compare_digest(given, digest):
                match = kid
        return match


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per client (API key, or address when there are no keys): `per_minute` requests a minute on
    average, up to `burst` at once. `acquire` returns 0 when a request may go, else seconds until one may."""

    def __init__(self, per_minute: float, burst: int | None = None, clock=time.monotonic, max_clients: int = 10_000):
        if per_minute < 0:
            raise ConfigError(f"--rate-limit must be >= 0 (0 = off), got {per_minute}")
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, math.ceil(per_minute)))
        if per_minute and self.burst < 1:
            raise ConfigError(f"--rate-burst must be at least 1, got {burst}")
        self._clock, self._max_clients = clock, max_clients
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> float:
        if not self.enabled:
            return 0.0
        now = self._clock()
        b = self._buckets.get(client)
        if b is None:
            if len(self._buckets) >= self._max_clients:
                self._prune(now)
            b = self._buckets[client] = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
        b.at = now
        if b.tokens >= 1:
            b.tokens -= 1
            return 0.0
        return (1 - b.tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget clients whose buckets are full again (they would start full anyway): bounds memory under many
        addresses."""
        full = [c for c, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for c in full:
            del self._buckets[c]


def _reject(status: int, message: str, code: str, type: str = "invalid_request_error",
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type=type, code=code), status_code=status, headers=headers)


class SecurityMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware, which buffers and breaks streaming): auth, rate limit, body size."""

    def __init__(self, app: ASGIApp, keys: KeyChecker, limiter: RateLimiter, max_body_bytes: int):
        self.app, self.keys, self.limiter, self.max_body = app, keys, limiter, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        info = scope.setdefault("warble", {})
        client = None
        if self.keys.enabled:
            client = self.keys.check(headers.get("authorization"))
            if client is None:
                msg = ("missing API key: send the header 'Authorization: Bearer KEY'"
                       if not headers.get("authorization", "").strip() else "invalid API key")
                await _reject(401, msg, "invalid_api_key", headers={"WWW-Authenticate": "Bearer"})(scope, receive,
                                                                                                    send)
                return
            info["key"] = client
        wait = self.limiter.acquire(client or (scope.get("client") or ("local",))[0])
        if wait > 0:
            retry = max(1, math.ceil(wait))
            await _reject(429, f"rate limit exceeded: {self.limiter.rate * 60:g} requests per minute; retry in "
                               f"{retry} s", "rate_limit_exceeded", type="rate_limit_error",
                          headers={"Retry-After": str(retry)})(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _reject(413, f"request body is {int(length):,} bytes; the limit is {self.max_body:,}",
                          "request_too_large")(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        """`receive` that fails once more than the limit has arrived (a chunked body states no length). Raised as
        an HTTPException, which FastAPI passes through its body parsing to the error handlers as is."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, f"request body exceeds the limit of {self.max_body:,} bytes")
            return message

        return counted
