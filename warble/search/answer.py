"""Generated answers: retrieve posts, write a short answer citing them as `[post id]`, and check every citation.

    for event in answer_events(index, engine, "what happened at the launch?"):
        ...   # {"type": "hits"}, then {"type": "delta"}s, then {"type": "answer"} (the checked answer)
    result = answer(index, engine, "what happened at the launch?")       # the final event alone

Nothing the model writes is trusted: a citation counts only if it names a post that was retrieved for this query and
is still live in the store of record (`SearchIndex.get`, read after generation, so a post deleted meanwhile cannot be
cited); every other citation is removed and counted by reason. A sentence is *supported* when it cites at least one
valid post and that post backs it measurably (`lexical`: most of the sentence's words occur in the cited posts;
`model`: the cited post makes the sentence more likely under the model, log P(s | post) > log P(s) per token).
Unsupported sentences are dropped; an answer left with none says `NO_SUPPORT` instead.

The question is searched with its words OR-ed and its operators kept (`understand.expanded_query`): the query
syntax ANDs words, and a question's every word is rarely in one post. Modes: `generative` (the model writes from a
prompt of the posts, each labelled with its id; only those posts are citable) and `extractive` (the best-matching
sentences of the posts themselves, each cited; no model needed). Both go through the same check.
A time budget covers retrieval, reranking and generation: the stream is aborted when it runs out and the result says
`cut`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from warble.errors import ConfigError, InputError

NO_SUPPORT = "The retrieved posts do not support an answer."
MODES = ("generative", "extractive")
SUPPORTS = ("lexical", "model")
LEXICAL_THRESHOLD = 0.5  # share of a sentence's content words found in the posts it cites
MODEL_THRESHOLD = 0.0  # mean log-prob gain per token of the sentence given the cited post
MAX_SENTENCES = 3  # extractive answers
MIN_POST_TOKENS = 16  # a post in the prompt gets at least this much of its text, or is left out

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*")
GROUP = re.compile(r"\[([^\[\]\n]*)\]")  # one bracketed citation group: [id] or [id, id]
STRAY = re.compile(r"\[[^\s\[\]]*|\]")  # a bracket that never closes (with the id it began) or never opened
CITATION_OR_STRAY = re.compile(GROUP.pattern + "|" + STRAY.pattern)
CITES_AFTER = re.compile(r"(?:[ \t]*\[[^\[\]\n]*\])*")
STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your"])


# ---------------------------------------------------------------------------------------------------- words
def content_words(text: str) -> set[str]:
    """The words that carry meaning, through the index's analyzer (case- and accent-folded), stop words dropped."""
    from warble.search.index import analysis

    return {w for w in analysis.analyze(text) if w not in STOP_WORDS and (len(w) > 1 or not w.isascii())}


def split_sentences(text: str) -> list[str]:
    """Sentences of a text: a line break ends one, and so does `.`, `!` or `?` followed by a space or the end, with
    any citations right after the mark kept in the sentence ("It flew. [12] Then..." -> "It flew. [12]")."""
    out = []
    for line in text.split("\n"):
        start, i = 0, 0
        while i < len(line):
            if line[i] in ".!?":
                j = i + 1
                while j < len(line) and line[j] in ".!?":
                    j += 1
                j = CITES_AFTER.match(line, j).end()
                if j == len(line) or line[j].isspace():
                    if line[start:j].strip():
                        out.append(line[start:j].strip())
                    start = i = j
                    continue
                i = j
                continue
            i += 1
        if line[start:].strip():
            out.append(line[start:].strip())
    return out


# ---------------------------------------------------------------------------------------------------- checking
@dataclass
class CheckedSentence:
    text: str  # with only its valid citations
    citations: list[str]
    support: float | None  # the support measure against the cited posts (None: nothing valid cited)
    supported: bool

    def to_dict(self) -> dict:
        return {"text": self.text, "citations": self.citations,
                "support": None if self.support is None else round(self.support, 4), "supported": self.supported}


@dataclass
class CheckedAnswer:
    text: str  # what to show: the supported sentences, or NO_SUPPORT
    supported: bool
    citations: list[str]  # distinct valid post ids cited by the supported sentences, in order
    sentences: list[CheckedSentence]
    removed: dict[str, int]  # citations removed, by reason: not_retrieved, deleted, duplicate, malformed
    removed_citations: list[dict]  # {"citation", "reason"} each
    raw: str  # the text before checking

    def to_dict(self) -> dict:
        return {"answer": self.text, "supported": self.supported, "citations": self.citations,
                "sentences": [s.to_dict() for s in self.sentences], "removed": self.removed,
                "removed_citations": self.removed_citations, "raw": self.raw}


SupportFn = Callable[[str, list[str]], float]  # (sentence without citations, cited posts' texts) -> support


def lexical_support(sentence: str, posts: list[str]) -> float:
    """Share of the sentence's content words that occur in the cited posts (0 for a sentence without any)."""
    words = content_words(sentence)
    if not words:
        return 0.0
    seen = set().union(*(content_words(p) for p in posts)) if posts else set()
    return len(words & seen) / len(words)


def model_support(engine) -> SupportFn:
    """Support as the model measures it: max over cited posts of mean log P(s | post) - mean log P(s)."""

    def support(sentence: str, posts: list[str]) -> float:
        if not posts or not sentence.strip():
            return float("-inf")
        room = max(8, engine.max_context - 2 - engine.count_tokens(sentence))
        ctx = [fit_tokens(engine, p, room) + "\n" for p in posts]
        given = engine.score([sentence] * len(ctx), contexts=ctx)
        alone = engine.score([sentence])[0].mean_logprob
        return max(s.mean_logprob for s in given) - alone

    return support


def check_answer(raw: str, retrieved: dict[str, str], live: Callable[[Sequence[str]], set[str]], *,
                 support: SupportFn = lexical_support, threshold: float = LEXICAL_THRESHOLD) -> CheckedAnswer:
    """Check the citations and support of a written answer.

    `retrieved`: id -> text of the posts retrieved for the query; `live(ids)`: those of `ids` still live in the store
    of record (asked once, after writing). Each citation group `[id]` / `[id, id]` keeps only ids that were retrieved
    and are live, and not already cited in the same sentence; anything else in brackets (empty, spaces, odd
    characters) and brackets that never close are malformed. All removals are counted by reason."""
    removed = {"not_retrieved": 0, "deleted": 0, "duplicate": 0, "malformed": 0}
    removed_list: list[dict] = []
    sentences_raw = split_sentences(raw)
    cited = {i for s in sentences_raw for g in GROUP.findall(s) for i in (p.strip() for p in re.split(r"[,;]", g))
             if i in retrieved}
    alive = set(live(sorted(cited))) if cited else set()

    def drop(citation: str, reason: str) -> None:
        removed[reason] += 1
        removed_list.append({"citation": citation, "reason": reason})

    def clean(sentence: str) -> tuple[str, list[str]]:
        """The sentence with only its valid citations, and their ids in order."""
        ids: list[str] = []

        def fix_group(m: re.Match) -> str:
            if m.group(1) is None:  # a stray bracket
                drop(m.group(0), "malformed")
                return " "
            parts = [p.strip() for p in re.split(r"[,;]", m.group(1))]
            kept = []
            if not any(parts):
                drop(m.group(0), "malformed")
                return " "
            for p in parts:
                if not ID.fullmatch(p):
                    drop(f"[{p}]", "malformed")
                elif p not in retrieved:
                    drop(f"[{p}]", "not_retrieved")
                elif p not in alive:
                    drop(f"[{p}]", "deleted")
                elif p in ids:
                    drop(f"[{p}]", "duplicate")
                else:
                    ids.append(p)
                    kept.append(p)
            return f"[{', '.join(kept)}]" if kept else " "

        return CITATION_OR_STRAY.sub(fix_group, sentence), ids

    out: list[CheckedSentence] = []
    for s in sentences_raw:
        text, ids = clean(s)
        text = re.sub(r"\s+([.,!?;:])", r"\1", re.sub(r"\s+", " ", text)).strip()
        bare = re.sub(r"\s+", " ", GROUP.sub(" ", text)).strip()
        if not bare:  # nothing but citations
            continue
        sup = support(bare, [retrieved[i] for i in ids]) if ids else None
        ok = sup is not None and sup >= threshold and sup > float("-inf")
        out.append(CheckedSentence(text, ids, sup, ok))
    good = [s for s in out if s.supported]
    citations = list(dict.fromkeys(i for s in good for i in s.citations))
    text = " ".join(s.text for s in good) if good else NO_SUPPORT
    return CheckedAnswer(text, bool(good), citations, out, removed, removed_list, raw)


# ---------------------------------------------------------------------------------------------------- prompting
def fit_tokens(engine, text: str, n: int) -> str:
    """`text` cut to at most n of the engine's tokens."""
    if n <= 0:
        return ""
    ids = engine.tokenizer.encode(text)
    return text if len(ids) <= n else engine.tokenizer.decode(ids[:n])


def build_prompt(engine, query: str, posts: Sequence[tuple[str, str]], max_tokens: int) -> tuple[str, int]:
    """The prompt: each post on its own line as `[id] text`, then the question and `Answer:`, within the model's
    context beside `max_tokens` new tokens. The best-ranked posts that can each have at least MIN_POST_TOKENS of
    text are included, each cut to a fair share of the room. Returns (prompt, posts used)."""
    tail = f"Question: {' '.join(query.split())}\nAnswer:"
    room = engine.max_context - 1 - max_tokens - engine.count_tokens(tail)  # 1: [bos]
    if room <= 0:
        raise InputError(f"the question is too long for this model's context ({engine.max_context} tokens)")
    labels = [f"[{pid}] " for pid, _ in posts]
    cost = [engine.count_tokens(lab) + 1 for lab in labels]  # + the line break
    k = len(posts)
    while k > 1 and sum(cost[:k]) + k * MIN_POST_TOKENS > room:
        k -= 1
    lines: list[str] = []
    for n in range(k):
        share = room // (k - n)
        body = fit_tokens(engine, " ".join(posts[n][1].split()), share - cost[n])
        line = labels[n] + body + "\n"
        used = engine.count_tokens(line)
        if not body or used > room:
            break
        lines.append(line)
        room -= used
    if not lines:
        raise InputError(f"this model's context ({engine.max_context} tokens) holds no post beside the question "
                         f"and {max_tokens} new tokens: ask for fewer (--max-tokens)")
    return "".join(lines) + tail, len(lines)


def extractive_answer(query: str, posts: Sequence[tuple[str, str]], max_sentences: int = MAX_SENTENCES) -> str:
    """The posts' own sentences that share the most content words with the query (ties: the better-ranked post),
    each followed by its post's citation; a text without any such sentence is empty (then NO_SUPPORT)."""
    q = content_words(query)
    scored, seen = [], set()
    for rank, (pid, text) in enumerate(posts):
        for s in split_sentences(text):
            key = " ".join(s.lower().split())
            if key in seen or GROUP.search(s) or STRAY.search(s):  # a post's own brackets would read as citations
                continue
            seen.add(key)
            words = content_words(s)
            overlap = len(words & q) / len(q) if q else (1.0 if words else 0.0)
            if overlap > 0:
                scored.append((-overlap, rank, s, pid))
    scored.sort(key=lambda t: (t[0], t[1]))
    return " ".join(f"{s} [{pid}]" for _, _, s, pid in scored[:max_sentences])


# ---------------------------------------------------------------------------------------------------- answering
@dataclass
class AnswerOptions:
    mode: str = "generative"  # generative | extractive
    search_mode: str = "hybrid"
    limit: int = 5  # posts given to the writer
    rerank: int = 0  # rerank this many first-stage candidates with the model (0: off)
    max_tokens: int = 96
    temperature: float = 0.0  # greedy: the same posts give the same answer
    seed: int | None = 0
    budget_ms: float | None = None  # retrieval + reranking + generation
    support: str = "lexical"  # lexical | model
    threshold: float | None = None  # default per support measure
    search_options: dict = field(default_factory=dict)  # more SearchIndex.search keywords (fusion, boosts)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"answer mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.support not in SUPPORTS:
            raise InputError(f"support must be one of {', '.join(SUPPORTS)}, got {self.support!r}")
        if self.limit < 1 or self.max_tokens < 1 or self.rerank < 0:
            raise InputError("need limit >= 1, max_tokens >= 1 and rerank >= 0")
        if self.budget_ms is not None and self.budget_ms <= 0:
            raise InputError(f"the time budget must be positive, got {self.budget_ms} ms")


def answer_events(index, engine, query: str, options: AnswerOptions | None = None, *,
                  clock: Callable[[], float] = time.monotonic) -> Iterator[dict]:
    """Answer a question from the index, as events: `{"type": "hits", "hits": [...]}` (the posts retrieved), then
    `{"type": "delta", "text"}` as the answer is written (unchecked), then `{"type": "answer", ...}`: the checked
    answer (`CheckedAnswer.to_dict()` keys plus mode, cut, finish_reason, posts_in_prompt, took_ms).
    `engine` may be None in extractive mode with lexical support and no reranking."""
    from warble.search.query import parse

    o = options or AnswerOptions()
    o.validate()
    if engine is None and (o.mode == "generative" or o.support == "model" or o.rerank):
        raise ConfigError("a generative answer, model support and reranking need a model (--model RUN)")
    from warble.search.understand import expanded_query

    node = expanded_query(parse(query))  # a question's words OR-ed, its operators kept
    t0 = clock()
    deadline = None if o.budget_ms is None else t0 + o.budget_ms / 1000

    def out_of_time() -> bool:
        return deadline is not None and clock() >= deadline

    depth = max(o.limit, o.rerank)
    hits = index.search(node, mode=o.search_mode, limit=depth, **o.search_options)
    cut = out_of_time()
    if o.rerank and hits and not cut:
        from warble.search.rerank import rerank

        hits = [r.hit for r in rerank(engine, node, hits, top_n=o.rerank)]
        cut = out_of_time()
    hits = hits[:o.limit]
    yield {"type": "hits", "hits": [h.to_dict() for h in hits]}
    posts = [(h.id, h.text) for h in hits]
    raw, finish, used = "", None, 0
    if not posts:
        finish = "no_hits"
    elif cut:
        finish = "budget"
    elif o.mode == "extractive":
        raw, finish, used = extractive_answer(query, posts), "stop", len(posts)
        for s in split_sentences(raw):
            yield {"type": "delta", "text": s + " "}
    else:
        from warble.serve.types import SamplingParams

        max_tokens = min(o.max_tokens, max(1, engine.max_context // 2))
        prompt, used = build_prompt(engine, query, posts, max_tokens)
        params = SamplingParams(max_tokens=max_tokens, temperature=o.temperature, seed=o.seed,
                                stop=("\n\n", "\nQuestion:"))
        stream = engine.stream(prompt, params)
        try:
            for d in stream:
                if d.text:
                    raw += d.text
                    yield {"type": "delta", "text": d.text}
                if d.finish_reason is not None:
                    finish = d.finish_reason
                    break
                if out_of_time():
                    cut, finish = True, "budget"
                    break
        finally:
            stream.close()  # aborts the request if it is still running
    if o.support == "model":
        support, threshold = model_support(engine), MODEL_THRESHOLD
    else:
        support, threshold = lexical_support, LEXICAL_THRESHOLD
    # Citable: the posts the writer was given (a retrieved post that did not fit the prompt cannot be its source).
    checked = check_answer(raw, dict(posts[:used]), lambda ids: set(index.get(ids)), support=support,
                           threshold=o.threshold if o.threshold is not None else threshold)
    yield {"type": "answer", "query": query, "mode": o.mode, **checked.to_dict(), "cut": cut,
           "finish_reason": finish, "posts_in_prompt": used, "support_measure": o.support,
           "took_ms": round((clock() - t0) * 1000, 3)}


def answer(index, engine, query: str, options: AnswerOptions | None = None, **kw) -> dict:
    """The checked answer (the final event of `answer_events`) with the retrieved hits under "hits"."""
    hits, final = [], None
    for ev in answer_events(index, engine, query, options, **kw):
        if ev["type"] == "hits":
            hits = ev["hits"]
        elif ev["type"] == "answer":
            final = ev
    return {**{k: v for k, v in final.items() if k != "type"}, "hits": hits}


# ---------------------------------------------------------------------------------------------------- the model
class EngineEmbedder:
    """An already loaded Engine as the index's Warble embedder (`SearchIndex.open(embedder=...)`), so that answering
    loads the model once; the index checks it reproduces its recorded probe vectors."""

    kind = "warble"

    def __init__(self, engine, run_dir: str):
        self.engine, self.run_dir, self.dim = engine, run_dir, engine.embedding_dim

    def embed(self, texts):
        return self.engine.embed([fit_tokens(self.engine, t, self.engine.max_context - 1) for t in texts])

    def spec(self) -> dict:
        return {"kind": self.kind, "run": str(self.run_dir), "model_id": self.engine.model_id, "dim": self.dim}

    def close(self) -> None:  # the engine belongs to the caller
        pass


def answer_model(index_spec: dict, model: str | None) -> str:
    """The run directory that writes answers: --model, else the Warble model the index was built with."""
    if model:
        return model
    if index_spec.get("kind") == "warble" and index_spec.get("run"):
        return index_spec["run"]
    raise ConfigError("this needs a Warble model: pass --model RUN (the index records none: it was built with "
                      f"--embedder {index_spec.get('kind', 'none')})")
