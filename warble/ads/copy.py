"""Ad copy from the Warble model: candidate promoted posts for a brief, checked, ranked and saved as drafts.

The model is a post model, not an instruction follower, so a brief becomes (a) the metadata control tokens of the
post we want (the brief's language, an original post not a reply, the top engagement bucket, the brief's topic
when the tokenizer has it) and (b) the opening words of the post, which the model continues:

    "{product}"                          the post starts with the product
    "{brand} {product}:"                 a label line, as brand accounts post
    "Nothing beats {product}"            openings the corpus's posts use often (see doc_adcopy.md for the trial)
    "Shoutout to {brand} for {product}"
    "#{hashtag} {product}"               the topic's hashtag (or the brand's)
    "Fun fact: {product} {fact}"         one of the brief's facts, so the model talks about it

Required words the opening lacks are added to it (prompted in); the call to action closes the post. Decoding
enforces the constraints (warble.ads.constraints): a token budget for the length limit, then a cut at a sentence
or word boundary; banned words as `bad_words_ids` (every case/space variant's tokens) plus a check; a candidate
still missing a required word is repaired by a deterministic insertion or dropped. `oversample` x N candidates
are drawn (seeds and temperatures vary, so do the openings) to fill N after the checks reject some.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, fields
from typing import Any

from warble.ads.brief import Brief
from warble.ads.constraints import bad_words_ids, fit_to_limit, insert_required, missing_words, token_budget
from warble.errors import InputError
from warble.tokenizer.specials import PLACEHOLDERS

OPENINGS = (
    "{product}",
    "{brand} {product}:",
    "Nothing beats {product}",
    "Shoutout to {brand} for {product}",
    "#{hashtag} {product}",
    "Fun fact: {product} {fact}",
)
TEMPERATURES = (0.6, 0.8, 0.9)  # cycled with the seeds; at 1.1 a quarter of English candidates drift into other scripts
TOP_P = 0.95
REPETITION_PENALTY = 1.1  # small models loop ("so good so good"); a mild CTRL penalty stops it
HIGH_ENGAGEMENT = 100  # likes + reposts: the top control bucket (100+)
# The corpus's placeholders (warble.tokenizer.specials.PLACEHOLDERS): text a model trained on it writes where a
# user's post had a link, a mention or personal data. An ad has none of these: they are banned while decoding and
# removed if they slip through (the brief's URL is appended after the text).
_PLACEHOLDER = re.compile(r"(?<![\w@<])(?:" + "|".join(map(re.escape, PLACEHOLDERS)) + r"|https)(?![\w>])",
                          re.IGNORECASE)


@dataclass
class Candidate:
    text: str  # the copy, without the link (the link follows it after a space)
    opening: str  # the prompt: the first words of the post
    continuation: str  # what the model wrote after the opening (cleaned)
    seed: int
    temperature: float
    finish_reason: str
    repaired: list[str] = field(default_factory=list)  # required words inserted after decoding

    def post(self, brief: Brief) -> str:
        """The post as published: the text, then the brief's link."""
        return f"{self.text} {brief.url}" if brief.url else self.text


def engine_supports_bad_words() -> bool:
    from warble.serve.types import SamplingParams

    return "bad_words_ids" in {f.name for f in fields(SamplingParams)}


def conditions_for(brief: Brief, tokenizer, engagement: int = HIGH_ENGAGEMENT) -> dict[str, Any]:
    """Control tokens of the post we want. A topic the tokenizer has no token for is left out (it would become
    'other', which says nothing)."""
    from warble.tokenizer.specials import topic_key

    cond: dict[str, Any] = {"lang": brief.lang, "reply": False, "engagement": engagement}
    if brief.topic and topic_key(brief.topic) in tokenizer.topics:
        cond["topic"] = brief.topic
    return cond


def _hashtag(brief: Brief) -> str:
    src = brief.topic or brief.brand or brief.product
    return re.sub(r"\W+", "", src.title() if " " in src else src) or "ad"


def openings(brief: Brief) -> list[str]:
    """The openings this brief can fill (a template needing a brand or a fact the brief lacks is skipped), each
    with the required words it lacks added at its end."""
    out = []
    for template in OPENINGS:
        if "{brand}" in template and not brief.brand or "{fact}" in template and not brief.facts:
            continue
        for k, fact in enumerate(brief.facts if "{fact}" in template else [""]):
            text = template.format(product=brief.product, brand=brief.brand or "", hashtag=_hashtag(brief),
                                   fact=fact.rstrip(".!?"))
            missing = missing_words(text, brief.must_include)
            out.append(" ".join([text, *missing]))
            if k >= 1:  # two facts per brief at most: the other openings deserve the room
                break
    return out


def clean(text: str) -> str:
    """The continuation without placeholders and with single spaces."""
    text = _PLACEHOLDER.sub(" ", text).replace("\ufffd", "")  # U+FFFD: a character cut mid-way in bytes
    return " ".join(text.split())


def finish(brief: Brief, opening: str, continuation: str) -> tuple[str, list[str]] | None:
    """The copy from an opening and the model's continuation: cut to the limit (room kept for the call to action,
    which closes it), required words repaired if missing. None when nothing usable is left."""
    cta = brief.call_to_action or ""
    room = brief.char_limit - (len(cta) + 1 if cta else 0)
    # The opening ends with the brief's own words: when the model goes on mid-word ("220 g" + "anhar") a space keeps
    # them whole.
    glue = " " if continuation[:1].isalnum() else ""
    body = fit_to_limit(clean(opening + glue + continuation), room)
    missing = missing_words(body, brief.must_include)
    if missing:
        body = insert_required(body, missing, room) or ""
    if not body:
        return None
    if cta and not body.endswith((".", "!", "?", "…")):
        body += "."
    text = f"{body} {cta}" if cta else body
    if len(text) > brief.char_limit:  # the full stop added above can be the one character too many
        text = f"{body[:-1]} {cta}"
    return text, missing


def generate_candidates(engine, brief: Brief, count: int, *, seed: int = 0,
                        temperatures: tuple[float, ...] = TEMPERATURES) -> tuple[list[Candidate], dict]:
    """`count` decoded candidates (duplicates and empty ones dropped, so possibly fewer) and how they were made."""
    from warble.serve.types import SamplingParams

    tok = engine.tokenizer
    conditions = conditions_for(brief, tok)
    opens = openings(brief)
    banned = bad_words_ids(tok, brief.must_avoid) + [tok.encode(w) for w in PLACEHOLDERS]
    use_bad_words = engine_supports_bad_words()
    prompts, params = [], []
    for i in range(count):
        opening = opens[i % len(opens)]
        room = brief.char_limit - len(opening) - (len(brief.call_to_action) + 1 if brief.call_to_action else 0)
        prompt_tokens = 1 + len(tok.control_ids(**conditions)) + len(tok.encode(opening))
        budget = min(token_budget(max(room, 1), brief.lang), engine.max_context - prompt_tokens)
        if budget < 1:
            continue
        extra = {"bad_words_ids": banned} if use_bad_words and banned else {}
        prompts.append(opening)
        params.append(SamplingParams(max_tokens=budget, temperature=temperatures[i % len(temperatures)],
                                     top_p=TOP_P, repetition_penalty=REPETITION_PENALTY, seed=seed + i,
                                     conditions=conditions, **extra))
    completions = engine.generate(prompts, params) if prompts else []
    out, seen = [], set()
    for opening, p, c in zip(prompts, params, completions):
        done = finish(brief, opening, c.text)
        if done is None:
            continue
        text, repaired = done
        key = " ".join(text.lower().split())
        if key in seen:
            continue
        seen.add(key)
        out.append(Candidate(text, opening, clean(c.text), p.seed, p.temperature, c.finish_reason, repaired))
    info = {"conditions": conditions, "openings": opens, "drawn": len(prompts), "kept": len(out),
            "banned_sequences": len(banned), "bad_words_in_decoding": use_bad_words}
    return out, info


# ------------------------------------------------------------------------------------------------ the pipeline
def generate_ads(engine, brief: Brief, n: int = 8, *, oversample: int = 3, seed: int = 0, lam: float = 0.7,
                 engagement=None, safety=None, safety_tier: str = "standard", guard=None,
                 skipped: dict[str, str] | None = None, store=None, actor: str = "warble ads generate",
                 model_id: str | None = None) -> dict[str, Any]:
    """Draw `oversample` x n candidates, check each, rank those that pass (predicted engagement and MMR diversity),
    keep the best n, save them and the rejected ones as drafts in `store` (a DraftStore, or None), and return the
    JSON the CLI prints and the HTTP API answers."""
    from warble.ads.checks import blocking_failures, run_checks
    from warble.ads.ranking import rank_candidates

    if not 1 <= n <= 64:
        raise InputError(f"n must be between 1 and 64, got {n}")
    t0 = time.perf_counter()
    cands, info = generate_candidates(engine, brief, n * max(oversample, 1), seed=seed)
    t1 = time.perf_counter()
    checks = run_checks([c.text for c in cands], brief, safety=safety, safety_tier=safety_tier, guard=guard,
                        continuations=[c.continuation for c in cands], skipped=skipped)
    ok = [i for i, cs in enumerate(checks) if not blocking_failures(cs)]
    t2 = time.perf_counter()
    ranked = rank_candidates(engine, [cands[i].text for i in ok], brief, info["conditions"],
                             engagement=engagement, lam=lam) if ok else []
    t3 = time.perf_counter()
    accepted, rejected = [], []
    for r in ranked[:n]:
        i = ok[r["index"]]
        accepted.append(_entry(cands[i], brief, checks[i], rank=len(accepted) + 1, score=r["score"],
                               reasons=r["reasons"] + [_checks_summary(checks[i])], parts=r["parts"]))
    for i, cs in enumerate(checks):
        if i not in ok:
            failed = blocking_failures(cs)
            reasons = [f"failed {c.name}: {c.detail}" for c in cs if c.passed is False]
            rejected.append(_entry(cands[i], brief, cs, rank=None, score=None, reasons=reasons, parts={},
                                   failed=failed))
    drafts_path = None
    if store is not None:
        store.add(accepted + rejected, brief, actor=actor, model=model_id)
        drafts_path = str(store.path)
    notes = []
    if not info["bad_words_in_decoding"]:
        notes.append("the engine has no bad_words_ids: banned words are enforced by the check only")
    if len(accepted) < n:
        notes.append(f"only {len(accepted)} of {n} candidates passed the checks ({len(cands)} distinct drawn, "
                     f"{len(rejected)} rejected); raise --oversample or relax the brief")
    notes += [f"{name} not run: {why}" for name, why in (skipped or {}).items()]
    t4 = time.perf_counter()
    timings = {"generate": t1 - t0, "checks": t2 - t1, "rank": t3 - t2, "drafts": t4 - t3}
    return {"brief": brief.to_dict(), "candidates": accepted, "rejected": rejected,
            "seconds": round(t4 - t0, 3), "drafts": drafts_path,
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "generation": {**info, "n": n, "oversample": oversample, "seed": seed, "lambda": lam,
                           "ranking": "engagement model" if engagement is not None else "control-token contrast"},
            "notes": notes}


def _checks_summary(checks) -> str:
    passed = sum(c.passed is True for c in checks)
    not_run = [c.name for c in checks if c.passed is None]
    return f"checks: {passed} of {len(checks)} passed" + (f", not run: {', '.join(not_run)}" if not_run else "")


def _entry(c: Candidate, brief: Brief, checks, *, rank, score, reasons, parts, failed=None) -> dict[str, Any]:
    e = {"id": None, "text": c.text, "post": c.post(brief), "chars": len(c.text), "rank": rank, "score": score,
         "reasons": reasons, "score_parts": parts, "checks": [x.to_dict() for x in checks], "status": None,
         "opening": c.opening, "seed": c.seed, "temperature": c.temperature, "repaired": c.repaired}
    if failed is not None:
        e["failed"] = failed
    return e
