"""The engine's request and result types: the contract between the engine and its callers (the HTTP server,
search, ads, eval). Callers build `SamplingParams` and read `Completion` / `Delta` / `Score`; they never touch
the model, the KV cache or the scheduler."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from warble.errors import InputError

CONDITION_KEYS = ("lang", "reply", "engagement", "topic")  # = Tokenizer.control_ids' keyword arguments
MAX_TOP_LOGPROBS = 20


@dataclass
class SamplingParams:
    """How one completion is decoded. Defaults sample from the model's distribution as is."""

    max_tokens: int = 64  # new tokens at most (0 with echo: only score the prompt)
    temperature: float = 1.0  # 0 = greedy (argmax)
    top_k: int = 0  # keep the k most likely tokens; 0 = off
    top_p: float = 1.0  # nucleus: the smallest set whose probability reaches p; 1 = off
    min_p: float = 0.0  # drop tokens less likely than min_p x the most likely one; 0 = off
    repetition_penalty: float = 1.0  # CTRL-style: logits of tokens already in prompt or output /= p (x p if < 0)
    stop: tuple[str, ...] = ()  # stop strings; the text ends before the first one (not included)
    seed: int | None = None  # same seed, prompt and params -> same text, whatever else is in the batch
    logprobs: int | None = None  # None: none; k >= 0: each chosen token's logprob and the k most likely alternatives
    echo: bool = False  # also return the prompt (and, with logprobs, the prompt tokens' logprobs)
    conditions: dict | None = None  # metadata control tokens before the prompt: lang, reply, engagement, topic
    add_bos: bool = True  # start from [bos] as every training post does (text prompts only)
    ignore_eos: bool = False  # keep generating past the end of a post (benchmarks: a fixed number of tokens)
    # token sequences that must never be generated: a sequence's last token is banned whenever the tokens before it
    # (prompt included) end with the rest of it (Hugging Face's NoBadWordsLogitsProcessor); ads ban words with it
    bad_words_ids: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self):
        self.stop = tuple(self.stop) if not isinstance(self.stop, str) else (self.stop,)
        if isinstance(self.bad_words_ids, (list, tuple)):
            self.bad_words_ids = tuple(tuple(s) if isinstance(s, (list, tuple)) else s for s in self.bad_words_ids)
        self.validate()

    def validate(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise InputError(msg)

        need(isinstance(self.max_tokens, int) and self.max_tokens >= 0, f"max_tokens must be >= 0, got {self.max_tokens}")
        need(math.isfinite(self.temperature) and self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}")
        need(isinstance(self.top_k, int) and self.top_k >= 0, f"top_k must be >= 0 (0 = off), got {self.top_k}")
        need(0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}")
        need(0 <= self.min_p < 1, f"min_p must be in [0, 1), got {self.min_p}")
        need(math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0,
             f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        need(all(isinstance(s, str) and s for s in self.stop), "stop strings must be non-empty strings")
        need(self.logprobs is None or 0 <= self.logprobs <= MAX_TOP_LOGPROBS,
             f"logprobs must be between 0 and {MAX_TOP_LOGPROBS}, got {self.logprobs}")
        need(self.max_tokens > 0 or self.echo, "max_tokens must be at least 1 (or 0 with echo, to score the prompt)")
        need(isinstance(self.bad_words_ids, tuple) and all(
            isinstance(s, tuple) and s and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in s)
            for s in self.bad_words_ids), "bad_words_ids must be a list of non-empty lists of token ids")
        if self.conditions:
            unknown = set(self.conditions) - set(CONDITION_KEYS)
            need(not unknown, f"unknown condition(s) {sorted(unknown)}; known: {', '.join(CONDITION_KEYS)}")


@dataclass
class TokenLogprob:
    """One token of a prompt or completion: its text, id, log-probability under the model (before any sampling
    transform; None for the first prompt token, which nothing predicts) and the most likely alternatives."""

    token: str
    token_id: int
    logprob: float | None
    top: dict[str, float] = field(default_factory=dict)
    offset: int = 0  # character offset of the token in the returned text (prompt + completion with echo)


@dataclass
class Completion:
    text: str  # the completion (with echo: prompt + completion); a stop string is not included
    token_ids: list[int]  # the generated ids (stop string's tokens trimmed)
    finish_reason: str  # "stop" (end of post or a stop string) or "length" (max_tokens or the context)
    prompt_tokens: int  # tokens fed to the model, control tokens and [bos] included
    completion_tokens: int
    logprobs: list[TokenLogprob] | None = None  # with echo: prompt tokens first


@dataclass
class Delta:
    """One streamed piece of a completion. `finish_reason` is set on the last one."""

    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0  # set on the last delta, with the completion's totals
    completion_tokens: int = 0


@dataclass
class Score:
    """Log-likelihood of a text (given an optional context): the sum of its tokens' logprobs."""

    logprob: float
    token_ids: list[int]
    token_logprobs: list[float]
    tokens: list[str]

    @property
    def mean_logprob(self) -> float:  # length-normalised, for ranking texts of different lengths
        return self.logprob / max(len(self.token_logprobs), 1)
