"""`warble ads audience`: interest communities, the audience of a brief, lookalikes of seed accounts, and reach."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from warble.errors import ConfigError, InputError

HELP = "find the audience of an ad: matching interest communities, lookalikes of seed accounts, estimated reach"
DESCRIPTION = (
    "Learn interest communities from a search index's live posts (clusters of authors by what they post, in the "
    "spirit of SimClusters; cached in IDX/audience/), then match a brief to them (hashtags and keywords to target, "
    "estimated reach in authors and recent posts) and/or find a lookalike audience of seed accounts. "
    "--evaluate scores it against a synthetic corpus's known user interests (precision@k). docs/ADS.md.\n\n"
    "  warble ads audience --model run/ --index idx/ --brief brief.json --json\n"
    "  warble ads audience --index idx/ --seeds @ana,@bo --reach 0.02\n"
    "  warble ads audience --index idx/ --evaluate raw/_truth")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", required=True, metavar="IDX", help="a search index built by `warble index`")
    p.add_argument("--model", metavar="RUN_DIR", help="the run that embedded the index (default: the one it records)")
    p.add_argument("--brief", metavar="BRIEF_JSON", help="the ad brief (JSON; only product is required)")
    p.add_argument("--seeds", metavar="LIST", help="seed accounts for a lookalike audience: @handles or author ids, "
                                                   "comma-separated")
    g = p.add_argument_group("communities")
    g.add_argument("--communities", type=int, metavar="K", help="how many (default: about sqrt(authors with 3+ "
                                                                "posts))")
    g.add_argument("--rebuild", action="store_true", help="relearn the communities even if cached")
    g.add_argument("--term-weight", type=float, metavar="W",
                   help="share of the term profile (vs the mean post embedding) in clustering, 0..1 (default: 0.5 "
                        "for a minilm index, 1 otherwise: see docs for the measurements)")
    g.add_argument("--seed", type=int, default=0, help="random seed of the clustering (default 0)")
    g = p.add_argument_group("targeting")
    g.add_argument("--top", type=int, default=3, help="communities to target at most (default 3)")
    g.add_argument("--alpha", type=float, default=0.25,
                   help="share of embedding similarity in a community's match score, the rest keywords (default 0.25)")
    g.add_argument("--days", type=float, default=30.0, help="reach window in days (default 30)")
    g.add_argument("--now", metavar="ISO_TIME", help="end of the reach window (default: the newest post)")
    g.add_argument("--reach", type=float, help="lookalikes: fraction of all authors to reach, 0..1 (default 0.05)")
    g.add_argument("--min-similarity", type=float, help="lookalikes: least cosine similarity to the seeds")
    g.add_argument("--similarity", choices=["terms", "embedding", "both"],
                   help="lookalike author profiles (default: embedding for a minilm index, terms otherwise)")
    g.add_argument("--limit", type=int, default=50, help="lookalike authors listed (default 50)")
    p.add_argument("--evaluate", metavar="TRUTH_DIR", help="score against the simulator's _truth/ (users.jsonl) and "
                                                           "print JSON")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")


def _now_ms(text: str | None) -> int | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z
    except ValueError:
        raise ConfigError(f"--now: not an ISO time: {text!r}") from None
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp() * 1000)


def run(a) -> int:
    from warble.ads.audience import TargetOptions, evaluate, target
    from warble.ads.brief import Brief
    from warble.ads.communities import LearnOptions, load_or_learn, profile_defaults, read_live_posts
    from warble.search.index import SearchIndex

    if not (a.brief or a.seeds or a.evaluate):
        raise InputError("give --brief, --seeds or --evaluate")
    if a.communities is not None and a.communities < 1:
        raise ConfigError(f"--communities must be at least 1, got {a.communities}")
    brief = Brief.load(a.brief) if a.brief else None
    seeds = [s for s in (a.seeds or "").split(",") if s.strip()]
    if a.seeds is not None and not seeds:
        raise InputError("--seeds is empty")
    if a.term_weight is not None and not 0 <= a.term_weight <= 1:
        raise ConfigError(f"--term-weight must be from 0 to 1, got {a.term_weight}")
    now_ms = _now_ms(a.now)
    progress = not a.no_progress
    with SearchIndex.open(a.index, readonly=True, model=a.model) as idx:
        defaults = profile_defaults(idx)
        opts = TargetOptions(top=a.top, alpha=a.alpha, days=a.days, now_ms=now_ms, reach=a.reach,
                             min_similarity=a.min_similarity, similarity=a.similarity or defaults["similarity"],
                             limit=a.limit)
        opts.check()
        term_weight = defaults["term_weight"] if a.term_weight is None else a.term_weight
        comms, cached = load_or_learn(idx, LearnOptions(k=a.communities, seed=a.seed, term_weight=term_weight),
                                      rebuild=a.rebuild, progress=progress)
        embed = idx.embedder.embed if comms.emb_centroids is not None else None
        if a.evaluate:
            result = evaluate(comms, read_live_posts(idx), a.evaluate, embed=embed, opts=opts)
            print(json.dumps(result, ensure_ascii=False, indent=None if a.json else 2))
            return 0
        result = target(comms, brief=brief, seeds=seeds, embed=embed, opts=opts)
    result["learned"] = {"cached": cached, **{k: comms.meta[k] for k in ("k", "producers", "authors", "posts")}}
    if a.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_summary(result)
    return 0


def _print_summary(r: dict) -> None:
    learned = r["learned"]
    print(f"{learned['k']} communities over {learned['authors']} authors, {learned['posts']} posts "
          f"({'cached' if learned['cached'] else 'learned now'})")
    reach = r["estimated_reach"]
    for c in r.get("communities", []):
        print(f"  community {c['id']} [{c['lang'] or 'mixed'}] score {c['score']:.2f}: {c['size_authors']} authors, "
              f"reach {c['reach_authors']} authors / {c['reach_posts']} posts; "
              f"{' '.join(c['top_hashtags'][:5])} | {', '.join(c['top_terms'][:8])}")
    if "communities" in r:
        print(f"hashtags: {' '.join(r['hashtags'])}")
        print(f"keywords: {', '.join(r['keywords'])}")
        print(f"estimated reach ({reach['days']:g} days to {reach['until']}): {reach['authors']} authors, "
              f"{reach['posts']} posts (audience {reach['audience_authors']} authors)")
    if "lookalike" in r:
        look = reach["lookalike"]
        print(f"lookalikes: {look['authors_total']} authors (similarity >= {look['min_similarity']}), reach "
              f"{look['authors']} authors / {look['posts']} posts; top:")
        for x in r["lookalike"][:10]:
            print(f"  {x['handle'] or x['author_id']}  {x['similarity']:.3f}")
    print(f"({r['seconds']:.3f} s)", file=sys.stderr)
