"""Continuous batching: one thread owns the model and the KV cache and runs generation steps forever.

Each loop iteration: take new work from the inbox; run one chunk of a scoring or embedding job (so a big job never
stalls generation for long); admit waiting requests into free cache slots; then one forward in which every decoding
sequence advances by one token and the prompts being prefilled advance by a piece (at most `prefill_chunk` tokens
each and `prefill_tokens` in all, so a long prompt delays the others by one chunk, not by its whole length). A
request joins the running batch between two steps and leaves it the step it finishes, freeing its slot at once: a
long generation never holds up short ones queued behind it. The model and the cache are built on this thread too
(see `Engine.__init__`).

Results go out through each request's `sink` callable (called on this thread): streamed `Delta`s, then the
`Completion`, or an exception. Callers never see the model.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from warble.serve import packed
from warble.serve.kv_cache import KVCache
from warble.serve.sampling import RowSampling, banned_tokens, sample
from warble.serve.types import Completion, Delta, SamplingParams, Score, TokenLogprob

log = logging.getLogger("warble.serve")

Sink = Callable[[Any], None]


@dataclass
class Request:
    """One completion being generated."""

    prompt_ids: list[int]
    params: SamplingParams
    sink: Sink
    stream: bool = False
    prompt_text: str = ""  # the prompt as text, for echo
    # state, owned by the scheduler thread
    slot: int = -1
    cached: int = 0  # tokens of this sequence in the KV cache
    pending: int | None = None  # sampled, not yet fed to the model
    output_ids: list[int] = field(default_factory=list)
    text: str = ""  # decoded output_ids
    logprobs: list[TokenLogprob] = field(default_factory=list)
    prompt_logprobs: list[TokenLogprob] = field(default_factory=list)
    sent_chars: int = 0
    sent_tokens: int = 0
    sent_logprobs: int = 0
    row: RowSampling | None = None
    finish_reason: str | None = None
    cancelled: bool = False

    @property
    def prefilling(self) -> bool:
        return self.cached < len(self.prompt_ids)


@dataclass
class Job:
    """A batched scoring or embedding call: sequences in, one result per sequence out."""

    kind: str  # "score" or "embed"
    seqs: list[list[int]]
    first_target: list[int]  # score: index of the first scored token of each sequence
    sink: Sink
    results: dict[int, Any] = field(default_factory=dict)
    forwards: list[list[list[int]]] = field(default_factory=list)
    cancelled: bool = False


class Scheduler:
    def __init__(self, build: Callable[[], Any], cfg, tok, *, max_batch: int, max_len: int, dtype: torch.dtype,
                 device: torch.device, prefill_tokens: int = 2048, prefill_chunk: int = 512, pack_tokens: int = 4096,
                 pooling: str = "last", threads: int | None = None):
        self.build, self.tok, self.device, self.dtype = build, tok, device, dtype
        self.model, self.cache = None, None  # made on the engine thread (start)
        self.cfg = cfg
        self.max_batch, self.max_len = max_batch, max_len
        self.prefill_tokens, self.prefill_chunk, self.pack_tokens = prefill_tokens, prefill_chunk, pack_tokens
        self.pooling = pooling
        # torch threads of the engine thread, fixed here on the caller's thread (None: the caller's count): a new
        # thread would otherwise inherit whatever another thread last set (e.g. a one-thread query embedder)
        self.threads = threads or torch.get_num_threads()
        self.vocab = cfg.vocab_size
        self.free = list(range(max_batch))
        self.waiting: collections.deque[Request] = collections.deque()
        self.running: list[Request] = []
        self.jobs: collections.deque[Job] = collections.deque()
        self.inbox: collections.deque = collections.deque()
        self.wake = threading.Condition()
        self.closing = False
        self.stats = collections.Counter()
        self.thread = threading.Thread(target=self._main, name="warble-engine", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the engine thread; return once it has built the model and the cache (or raise what failed)."""
        self.thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self, wait: bool) -> None:
        with self.wake:
            self.closing = True
            self.wake.notify()
        if wait:
            self.thread.join()

    # ------------------------------------------------------------------------------------------- other threads
    def put(self, item: Request | Job | tuple) -> None:
        with self.wake:
            self.inbox.append(item)
            self.wake.notify()

    def idle(self) -> bool:
        return not (self.inbox or self.waiting or self.running or self.jobs)

    # ------------------------------------------------------------------------------------------- engine thread
    def _main(self) -> None:
        try:
            torch.set_num_threads(self.threads)
            with torch.inference_mode():
                self.model = self.build()
                self.cache = KVCache(self.cfg, self.max_batch, self.max_len, self.dtype, self.device)
        except BaseException as e:  # noqa: BLE001 - handed to the thread that called start()
            self._error = e
            self._ready.set()
            return
        self.build = None
        self._ready.set()
        self._loop()

    def _loop(self) -> None:
        with torch.inference_mode():
            while True:
                with self.wake:
                    while self.idle() and not self.closing:
                        self.wake.wait()
                    if self.idle() and self.closing:
                        return
                    items = list(self.inbox)
                    self.inbox.clear()
                for item in items:
                    self._take(item)
                try:
                    self._iteration()
                except Exception as e:  # a bug: fail what was in flight, keep serving the next requests
                    log.exception("engine step failed")
                    for r in [*self.running, *self.waiting]:
                        self._fail(r, e)
                    for j in self.jobs:
                        j.sink(e)
                    self.jobs.clear()

    def _take(self, item) -> None:
        if isinstance(item, Request):
            self.waiting.append(item)
        elif isinstance(item, Job):
            lengths = [len(s) for s in item.seqs]
            item.forwards = packed.plan_packs(lengths, min(max(lengths, default=1) * 4, self.max_len),
                                              self.pack_tokens) if item.seqs else []
            self.jobs.append(item)
        else:  # ("abort", request or job)
            item[1].cancelled = True

    def _iteration(self) -> None:
        self._drop_cancelled()
        if self.jobs:
            self._job_chunk(self.jobs[0])
        while self.waiting and self.free:
            r = self.waiting.popleft()
            r.slot = self.free.pop(0)
            self._start(r)
            self.running.append(r)
        if self.running:
            self._step()

    def _drop_cancelled(self) -> None:
        for r in [r for r in self.running if r.cancelled]:
            self._release(r)
        self.waiting = collections.deque(r for r in self.waiting if not r.cancelled)
        self.jobs = collections.deque(j for j in self.jobs if not j.cancelled)

    def _start(self, r: Request) -> None:
        p = r.params
        gen = None
        if p.temperature > 0:
            gen = torch.Generator().manual_seed(p.seed if p.seed is not None else secrets.randbits(63))
        seen = None
        if p.repetition_penalty != 1.0:
            seen = torch.zeros(self.vocab, dtype=torch.bool, device=self.device)
            seen[torch.tensor(r.prompt_ids, device=self.device)] = True
        r.row = RowSampling(p, gen, seen)

    # --------------------------------------------------------------------------------------------- forward
    def _step(self) -> None:
        """One forward for every running sequence: one token each for those decoding (in slot order, so the cache
        hands out views), then prompt pieces for those being prefilled, within the `prefill_tokens` budget and at
        most `prefill_chunk` tokens per prompt."""
        rows = sorted((r for r in self.running if not r.prefilling and r.pending is not None), key=lambda r: r.slot)
        feeds = [[r.pending] for r in rows]
        budget = self.prefill_tokens - len(rows)
        for r in self.running:
            if r.prefilling and budget > 0:
                n = min(len(r.prompt_ids) - r.cached, self.prefill_chunk, budget)
                rows.append(r)
                feeds.append(r.prompt_ids[r.cached:r.cached + n])
                budget -= n
        if not rows:
            return
        starts = [r.cached for r in rows]
        step = self.cache.step([r.slot for r in rows], starts, [len(f) for f in feeds])
        tokens = torch.tensor([[t for f in feeds for t in f]], device=self.device)
        h = self.model.hidden(tokens, positions=step.positions, kv=step)[0]  # [tokens, d_model]
        self.stats["steps_total"] += 1
        at, sampling, last = 0, [], []
        for r, f, start in zip(rows, feeds, starts):
            r.cached += len(f)
            if start < len(r.prompt_ids):  # a prompt piece
                self.stats["prompt_tokens_total"] += len(f)
                if r.params.echo and r.params.logprobs is not None:
                    self._prompt_logprobs(r, h[at:at + len(f)], start)
                if r.prefilling:  # more of the prompt to come
                    at += len(f)
                    continue
                if r.params.max_tokens == 0:  # echo scoring only
                    self._finish(r, "length")
                    at += len(f)
                    continue
            at += len(f)
            sampling.append(r)
            last.append(at - 1)
        if sampling:  # (decoding only: every row's state is sampled, in order, and needs no gather)
            self._sample(sampling, h if len(last) == h.size(0) else h[torch.tensor(last, device=h.device)])

    # --------------------------------------------------------------------------------------------- sampling
    def _sample(self, rows: list[Request], h: torch.Tensor) -> None:
        logits = self.model.logits(h).float()
        for r in rows:
            if r.params.bad_words_ids:
                r.row.banned = banned_tokens(r.params.bad_words_ids, r.prompt_ids, r.output_ids)
        tokens = sample(logits, [r.row for r in rows])
        want_lp = [b for b, r in enumerate(rows) if r.params.logprobs is not None]
        lps = torch.log_softmax(logits[want_lp], dim=-1) if want_lp else None
        for b, r in enumerate(rows):
            tok = int(tokens[b])
            entry = None
            if r.params.logprobs is not None:
                row_lp = lps[want_lp.index(b)]
                entry = self._logprob_entry(tok, row_lp, r.params.logprobs)
            self._accept(r, tok, entry)

    def _logprob_entry(self, tok: int, row_lp: torch.Tensor, k: int) -> TokenLogprob:
        top = {}
        if k:
            vals, ids = torch.topk(row_lp, k)
            top = {self.tok.decode([i], skip_special=False): v for i, v in zip(ids.tolist(), vals.tolist())}
        return TokenLogprob(self.tok.decode([tok], skip_special=False), tok, float(row_lp[tok]), top)

    def _prompt_logprobs(self, r: Request, h: torch.Tensor, start: int) -> None:
        """Logprobs of the prompt tokens this prefill chunk predicts (echo + logprobs)."""
        ids = r.prompt_ids
        if start == 0:
            r.prompt_logprobs.append(TokenLogprob(self.tok.decode([ids[0]], skip_special=False), ids[0], None))
        # state at column c (prompt position start + c) predicts prompt token start + c + 1
        n = min(h.size(0), len(ids) - start - 1)
        if n <= 0:
            return
        lp = torch.log_softmax(self.model.logits(h[:n]).float(), dim=-1)
        for c in range(n):
            j = start + c + 1
            entry = self._logprob_entry(ids[j], lp[c], r.params.logprobs)
            entry.offset = len(self.tok.decode(ids[:j]))  # echo returns the decoded prompt, so offsets match it
            r.prompt_logprobs.append(entry)

    def _accept(self, r: Request, tok: int, entry: TokenLogprob | None) -> None:
        p = r.params
        self.stats["generated_tokens_total"] += 1
        if tok == self.tok.eos_id and not p.ignore_eos:
            self._finish(r, "stop")
            return
        r.output_ids.append(tok)
        # The text is decoded as it grows only when something needs it before the end (streaming, stop strings,
        # logprob offsets); otherwise once, in _finish.
        prev = len(r.text)
        if r.stream or p.stop or entry is not None:
            r.text = self.tok.decode(r.output_ids)
        if entry is not None:
            entry.offset = prev
            r.logprobs.append(entry)
        if r.row.seen is not None:
            r.row.seen[tok] = True
        if p.stop and self._hit_stop(r, prev):
            return
        if len(r.output_ids) >= p.max_tokens or r.cached >= self.max_len:  # the cache has no room to feed it
            self._finish(r, "length")
            return
        r.pending = tok
        if r.stream:
            self._emit(r)

    def _hit_stop(self, r: Request, checked: int) -> bool:
        """End the text before the first stop string (searching only where a new one can start)."""
        longest = max(len(s) for s in r.params.stop)
        at = min((i for i in (r.text.find(s, max(0, checked - longest + 1)) for s in r.params.stop) if i >= 0),
                 default=-1)
        if at < 0:
            return False
        r.text = r.text[:at]
        while r.output_ids and len(self.tok.decode(r.output_ids[:-1])) >= at:  # tokens wholly after the stop
            r.output_ids.pop()
        r.logprobs = r.logprobs[:len(r.output_ids)]
        self._finish(r, "stop")
        return True

    # --------------------------------------------------------------------------------------------- results
    def _emit(self, r: Request, final: bool = False) -> None:
        """Stream what is safe to show: not the last characters that could start a stop string, nor a character
        whose bytes are not all generated yet."""
        text = r.text
        if not final:
            hold = max((len(s) for s in r.params.stop), default=1) - 1
            end = len(text) - hold
            while end > r.sent_chars and text[end - 1] == "\ufffd":
                end -= 1
            text = text[:max(end, r.sent_chars)]
        new_tokens = r.output_ids[r.sent_tokens:]
        new_lp = r.logprobs[r.sent_logprobs:] if r.params.logprobs is not None else None
        if not final and not text[r.sent_chars:] and not new_tokens:
            return
        offset = len(r.prompt_text) if r.params.echo else 0
        delta = Delta(text[r.sent_chars:], new_tokens,
                      [_shift(e, offset) for e in new_lp] if new_lp is not None else None,
                      r.finish_reason if final else None)
        if r.params.echo and r.sent_chars == 0 and r.sent_tokens == 0 and r.sent_logprobs == 0:
            delta.text = r.prompt_text + delta.text
            if new_lp is not None:
                delta.logprobs = r.prompt_logprobs + delta.logprobs
        if final:
            delta.prompt_tokens, delta.completion_tokens = len(r.prompt_ids), len(r.output_ids)
        r.sent_chars, r.sent_tokens, r.sent_logprobs = len(text), len(r.output_ids), len(r.logprobs)
        r.sink(delta)

    def _finish(self, r: Request, reason: str) -> None:
        r.finish_reason = reason
        if reason != "stop" or not r.params.stop:  # (a stop string already cut the text)
            r.text = self.tok.decode(r.output_ids)
        self.stats["requests_total"] += 1
        self._release(r)  # before the caller hears of it: its slot is free once its result is out
        if r.stream:
            self._emit(r, final=True)
        else:
            p = r.params
            offset = len(r.prompt_text) if p.echo else 0
            lps = None
            if p.logprobs is not None:
                lps = (r.prompt_logprobs if p.echo else []) + [_shift(e, offset) for e in r.logprobs]
            r.sink(Completion(r.prompt_text + r.text if p.echo else r.text, list(r.output_ids), reason,
                              len(r.prompt_ids), len(r.output_ids), lps))

    def _fail(self, r: Request, e: Exception) -> None:
        self._release(r)
        r.sink(e)

    def _release(self, r: Request) -> None:
        if r in self.running:
            self.running.remove(r)
            self.free.append(r.slot)
            self.free.sort()
        elif r in self.waiting:
            self.waiting.remove(r)
        r.pending = None

    # --------------------------------------------------------------------------------------------- jobs
    def _job_chunk(self, job: Job) -> None:
        rows = job.forwards.pop(0) if job.forwards else []
        if rows:
            pack = packed.build_pack(rows, job.seqs, self.tok.pad_id, self.device)
            if job.kind == "score":
                out = packed.score_pack(self.model, pack, dict(enumerate(job.first_target)))
            else:
                out = packed.embed_pack(self.model, pack, self.pooling)
            job.results.update(out)
            self.stats[f"{job.kind}_texts_total"] += len(pack.spans)
        if not job.forwards:
            self.jobs.popleft()
            job.sink(job)


def _shift(e: TokenLogprob, offset: int) -> TokenLogprob:
    return TokenLogprob(e.token, e.token_id, e.logprob, e.top, e.offset + offset) if offset else e


def make_score(job: Job, i: int, tok) -> Score:
    ids = job.seqs[i][job.first_target[i]:]
    lps = job.results.get(i, [])
    if job.first_target[i] == 0:  # nothing predicts the first token
        ids = ids[1:]
    return Score(float(sum(lps)), ids, lps, [tok.decode([t], skip_special=False) for t in ids])
