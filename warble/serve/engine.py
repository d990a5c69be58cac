"""The engine: generate, score and embed with one trained model. What search, ads, eval and the HTTP server use.

    engine = Engine.load("run/")                     # a run dir: model.safetensors + model.json + tokenizer/
    engine.generate(["just landed in", "new phone"], SamplingParams(max_tokens=30, temperature=0.8, seed=7))
    for delta in engine.stream("breaking:", SamplingParams(max_tokens=40)): print(delta.text, end="")
    engine.score(["a likely post", "a unlikely post"])        # log-likelihoods, per-token logprobs
    engine.embed(["posts to embed"])                           # [N, d_model] fp32, L2-normalised

Every call, sync or async, goes to one scheduler thread (`warble.serve.scheduler`) that batches concurrent requests
continuously; the `a*` twins await results from an asyncio event loop without blocking it. Callers see only the
types of `warble.serve.types`, so a remote engine (e.g. vLLM behind the same API) could stand in.
"""

from __future__ import annotations

import asyncio
import queue
import time
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator, Sequence

import numpy as np
import torch

from warble.errors import InputError, WarbleError
from warble.model import ModelConfig, Transformer
from warble.model.model import DTYPES, rope_table
from warble.serve import packed
from warble.serve.scheduler import Job, Request, Scheduler, make_score
from warble.serve.types import Completion, Delta, SamplingParams, Score
from warble.tokenizer import Tokenizer

Prompt = str | Sequence[int]


class EngineClosed(WarbleError):
    """The engine is shutting down and takes no new work."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available here")
    return torch.device(device)


def cpu_has_bf16() -> bool:
    """Native bf16 matmuls on this CPU (AVX512-BF16 or AMX), where oneDNN runs bf16 about 2-3x faster than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":  # bf16 where it is fast: GPUs, and CPUs with native bf16; fp32 elsewhere (emulated bf16 is slow)
        return torch.bfloat16 if device.type == "cuda" or cpu_has_bf16() else torch.float32
    if dtype not in DTYPES:
        raise InputError(f"dtype must be auto or one of {', '.join(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


class Engine:
    def __init__(self, build: Callable[[], Transformer], cfg: ModelConfig, tok: Tokenizer, *, model_id: str = "warble",
                 max_batch: int = 32, max_context: int | None = None, dtype: torch.dtype = torch.float32,
                 device: torch.device = torch.device("cpu"), **scheduler_options):
        """An engine over the model `build()` returns (of shape `cfg`), built on the engine's own thread: the thread
        that computes is then the only one whose OpenMP pool holds more than one thread (a second busy pool, e.g. of
        the thread that loaded the weights, makes every CPU op of the engine thread up to 2x slower; docs/LOG.md)."""
        if max_batch < 1:
            raise InputError(f"max_batch must be >= 1, got {max_batch}")
        if scheduler_options.get("pooling", "last") not in packed.POOLINGS:
            raise InputError(f"pooling must be one of {', '.join(packed.POOLINGS)}")
        if tok.vocab_size > cfg.vocab_size:
            raise InputError(f"the tokenizer has {tok.vocab_size} tokens, the model only {cfg.vocab_size}")
        self.tokenizer, self.model_id, self.device, self.dtype = tok, model_id, device, dtype
        self.max_context = min(max_context or cfg.max_seq_len, cfg.max_seq_len)
        self.embedding_dim = cfg.d_model
        self.created = int(time.time())
        self._sched = Scheduler(build, cfg, tok, max_batch=max_batch, max_len=self.max_context, dtype=dtype,
                                device=device, **scheduler_options)
        self._sched.start()  # raises what building the model raised
        self.model = self._sched.model  # for tests and benchmarks; callers use the methods below

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str = "auto", dtype: str = "auto", max_batch: int = 32,
             max_context: int | None = None, threads: int | None = None, **scheduler_options) -> "Engine":
        """An engine over a run directory (`warble train`, `finetune` or `import`). `threads`: torch threads of the
        engine's compute thread (default: torch's, all cores)."""
        from warble.train.finetune import load_pretrained

        root = Path(model_dir)
        cfg, weights = load_pretrained(root)
        tok = Tokenizer.load(root / "tokenizer")
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        # Packed scoring and embedding need the per-post mask whatever the run trained with.
        cfg = replace(cfg, doc_mask=True, attn_impl="sdpa")

        def build() -> Transformer:
            with torch.device("meta"):
                model = Transformer(cfg)
            model.to_empty(device=dev)
            model.load_state_dict(weights(), strict=True)
            model.fuse_for_inference().to(dt)
            model.rope_cos, model.rope_sin = rope_table(cfg, device=dev)  # rotary tables stay fp32
            return model.eval()

        return cls(build, cfg, tok, model_id=root.resolve().name, max_batch=max_batch, max_context=max_context,
                   dtype=dt, device=dev, threads=threads, **scheduler_options)

    # ------------------------------------------------------------------------------------------------ requests
    def _request(self, prompt: Prompt, params: SamplingParams, sink, stream: bool) -> Request:
        if self._sched.closing:
            raise EngineClosed("the engine is shutting down")
        if isinstance(params, dict):
            params = SamplingParams(**params)
        params.validate()
        if isinstance(prompt, str):
            ids = ([self.tokenizer.bos_id] if params.add_bos else []) \
                + self.tokenizer.control_ids(**(params.conditions or {})) + self.tokenizer.encode(prompt)
        else:
            ids = list(prompt)
            if params.conditions:
                raise InputError("conditions apply to text prompts; a token-id prompt is used as given")
            bad = [t for t in ids if not isinstance(t, int) or not 0 <= t < self.tokenizer.vocab_size]
            if bad:
                raise InputError(f"prompt token ids must be integers in [0, {self.tokenizer.vocab_size}), "
                                 f"got {bad[:3]}")
        if any(t >= self.tokenizer.vocab_size for seq in params.bad_words_ids for t in seq):
            raise InputError(f"bad_words_ids must be token ids below {self.tokenizer.vocab_size}")
        if not ids:
            raise InputError("the prompt is empty (and add_bos is off)")
        if len(ids) > self.max_context:
            raise InputError(f"the prompt is {len(ids)} tokens; this model's context is {self.max_context} tokens")
        return Request(ids, params, sink, stream, prompt_text=self.tokenizer.decode(ids) if params.echo else "")

    def _job(self, kind: str, texts: Sequence[str], contexts: Sequence[str] | None, sink,
             include_eos: bool = False) -> Job:
        if self._sched.closing:
            raise EngineClosed("the engine is shutting down")
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InputError("texts must be a list of strings")
        if contexts is not None and (len(contexts) != len(texts) or not all(isinstance(c, str) for c in contexts)):
            raise InputError("contexts must be a list of strings, one per text")
        tok = self.tokenizer
        bodies = tok.encode_batch(list(texts))
        heads = tok.encode_batch(list(contexts)) if contexts is not None else [[] for _ in texts]
        seqs, first = [], []
        for head, body in zip(heads, bodies):
            end = [tok.eos_id] if include_eos else []
            seqs.append([tok.bos_id, *head, *body, *end])
            first.append(1 + len(head))
        for i, s in enumerate(seqs):
            if len(s) > self.max_context:
                raise InputError(f"text {i} is {len(s)} tokens; this model's context is {self.max_context} tokens")
        return Job(kind, seqs, first, sink)

    # ------------------------------------------------------------------------------------------------ sync API
    def generate(self, prompts: Prompt | Sequence[Prompt], params: SamplingParams | Sequence[SamplingParams] | None
                 = None) -> list[Completion]:
        """Completions of one prompt or many (text, or token ids), in order. One params for all, or one each."""
        single = isinstance(prompts, str) or (len(prompts) > 0 and isinstance(prompts[0], int))
        plist = [prompts] if single else list(prompts)
        params = params if params is not None else SamplingParams()
        ps = list(params) if isinstance(params, (list, tuple)) else [params] * len(plist)
        if len(ps) != len(plist):
            raise InputError(f"{len(ps)} sampling params for {len(plist)} prompts")
        q: queue.Queue = queue.Queue()
        reqs = [self._request(p, sp, (lambda i: lambda ev: q.put((i, ev)))(i), False)
                for i, (p, sp) in enumerate(zip(plist, ps))]
        for r in reqs:
            self._sched.put(r)
        out: list = [None] * len(reqs)
        for _ in reqs:
            i, ev = q.get()
            if isinstance(ev, BaseException):
                for r in reqs:
                    self._sched.put(("abort", r))
                raise ev
            out[i] = ev
        return out

    def stream(self, prompt: Prompt, params: SamplingParams | None = None) -> Iterator[Delta]:
        """Deltas of one completion as they are generated; the last has `finish_reason`. Closing early aborts."""
        q: queue.Queue = queue.Queue()
        r = self._request(prompt, params or SamplingParams(), q.put, True)
        self._sched.put(r)
        done = False
        try:
            while True:
                ev = self._wait(q.get())
                yield ev
                if ev.finish_reason is not None:
                    done = True
                    return
        finally:
            if not done:
                self._sched.put(("abort", r))

    def score(self, texts: Sequence[str], contexts: Sequence[str] | None = None, *,
              include_eos: bool = False) -> list[Score]:
        """log P(text | [bos] + context) of each text, with per-token logprobs, batched. With include_eos the
        end-of-post token counts too (how likely the text is as a whole post)."""
        q: queue.Queue = queue.Queue()
        job = self._job("score", texts, contexts, q.put, include_eos)
        self._sched.put(job)
        return self._score_results(self._wait(q.get()))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised vector per text, [N, embedding_dim] fp32 (pooling: see `warble.serve.packed`; the
        engine's `pooling` option, default the last token's state)."""
        q: queue.Queue = queue.Queue()
        job = self._job("embed", texts, None, q.put)
        self._sched.put(job)
        return self._embed_results(self._wait(q.get()))

    # ------------------------------------------------------------------------------------------------ async API
    def _async_sink(self, aq: asyncio.Queue):
        loop = asyncio.get_running_loop()

        def sink(ev) -> None:
            try:
                loop.call_soon_threadsafe(aq.put_nowait, ev)
            except RuntimeError:  # the caller's event loop is gone: nobody is waiting for this any more
                pass

        return sink

    async def agenerate(self, prompt: Prompt, params: SamplingParams | None = None) -> Completion:
        aq: asyncio.Queue = asyncio.Queue()
        r = self._request(prompt, params or SamplingParams(), self._async_sink(aq), False)
        self._sched.put(r)
        try:
            return self._wait(await aq.get())
        except asyncio.CancelledError:
            self._sched.put(("abort", r))
            raise

    def astream(self, prompt: Prompt, params: SamplingParams | None = None) -> AsyncIterator[Delta]:
        """The deltas of one completion, from an event loop. Bad input raises here, before anything streams."""
        aq: asyncio.Queue = asyncio.Queue()
        r = self._request(prompt, params or SamplingParams(), self._async_sink(aq), True)
        self._sched.put(r)
        return self._astream(r, aq)

    async def _astream(self, r: Request, aq: asyncio.Queue) -> AsyncIterator[Delta]:
        done = False
        try:
            while True:
                ev = self._wait(await aq.get())
                yield ev
                if ev.finish_reason is not None:
                    done = True
                    return
        finally:
            if not done:
                self._sched.put(("abort", r))

    async def ascore(self, texts: Sequence[str], contexts: Sequence[str] | None = None, *,
                     include_eos: bool = False) -> list[Score]:
        aq: asyncio.Queue = asyncio.Queue()
        job = self._job("score", texts, contexts, self._async_sink(aq), include_eos)
        self._sched.put(job)
        try:
            return self._score_results(self._wait(await aq.get()))
        except asyncio.CancelledError:
            self._sched.put(("abort", job))
            raise

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        aq: asyncio.Queue = asyncio.Queue()
        job = self._job("embed", texts, None, self._async_sink(aq))
        self._sched.put(job)
        try:
            return self._embed_results(self._wait(await aq.get()))
        except asyncio.CancelledError:
            self._sched.put(("abort", job))
            raise

    # ------------------------------------------------------------------------------------------------ helpers
    @staticmethod
    def _wait(ev):
        if isinstance(ev, BaseException):
            raise ev
        return ev

    def _score_results(self, job: Job) -> list[Score]:
        return [make_score(job, i, self.tokenizer) for i in range(len(job.seqs))]

    def _embed_results(self, job: Job) -> np.ndarray:
        if not job.seqs:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return torch.stack([job.results[i] for i in range(len(job.seqs))]).cpu().numpy().astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def stats(self) -> dict:
        s = self._sched.stats
        return {"running": len(self._sched.running), "waiting": len(self._sched.waiting) + len(self._sched.inbox),
                "prompt_tokens_total": s["prompt_tokens_total"], "generated_tokens_total": s["generated_tokens_total"],
                "steps_total": s["steps_total"], "requests_total": s["requests_total"],
                "score_texts_total": s["score_texts_total"], "embed_texts_total": s["embed_texts_total"],
                "max_batch": self._sched.max_batch, "kv_cache_bytes": self._sched.cache.nbytes(),
                "threads": self._sched.threads}

    @property
    def closing(self) -> bool:
        """True once shutdown has begun (health checks report draining)."""
        return self._sched.closing

    def shutdown(self, wait: bool = True) -> None:
        """Take no new work; with `wait`, return once everything in flight has finished."""
        self._sched.stop(wait)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
