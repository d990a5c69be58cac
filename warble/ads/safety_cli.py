"""`warble ads safety`: check posts against the brand-safety taxonomy, trained classifiers and a block list."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from warble.errors import ConfigError, InputError

BATCH = 2000  # posts per check() call: bounds the memory of the hashed features

HELP = "brand safety: which posts are unsafe for ads (floor categories, advertiser tiers, block lists)"
DESCRIPTION = textwrap.fill(
    "Check posts for brand safety. FILE: one post a line (`-` = stdin), JSONL with a \"text\" field, or "
    "`warble search --json` output. With --model DIR, the classifiers `warble ads train-safety` wrote to "
    "DIR/safety/ are used beside the keyword taxonomy (without them: keywords only, and the JSON says so). "
    "Floor categories (hate, adult, illegal drugs, terrorism; graphic violence and self-harm) block ads for every "
    "advertiser; --tier limited|standard|full sets how much more the advertiser refuses. With --adjacency, the "
    "posts are a ranked list (search results, a timeline) and the output marks which ad slots between them are "
    "safe. JSONL records with a \"categories\" list are labels: the output then adds per-category precision/recall.", 100) + (
    "\n\n"
    "  warble ads safety --model eng/ posts.txt --json\n"
    "  warble ads safety posts.jsonl --tier limited --block acme --block-file competitors.txt\n"
    "  warble search --index idx/ 'launch' --json > hits.json && warble ads safety --model eng/ hits.json --adjacency")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="posts: text (one a line), .jsonl with \"text\", .json search output, "
                                                "or - for stdin")
    p.add_argument("--model", metavar="DIR", help="ads model directory (uses DIR/safety/ classifiers when present)")
    p.add_argument("--taxonomy", metavar="TOML", help="a taxonomy file (default: the one shipped with Warble)")
    p.add_argument("--tier", help="advertiser sensitivity tier (default taxonomy: limited, standard, full; "
                                  "default: the taxonomy's default_tier)")
    p.add_argument("--block", action="append", default=[], metavar="WORD",
                   help="advertiser block-list keyword (repeatable)")
    p.add_argument("--block-file", metavar="FILE", help="advertiser block list, one keyword a line (# comments)")
    p.add_argument("--adjacency", action="store_true", help="FILE is a ranked list: mark which ad slots are safe")
    p.add_argument("--window", type=int, default=1, metavar="K",
                   help="adjacency: a slot is safe when the K posts on each side are safe (default 1)")
    p.add_argument("--max-text", type=int, default=200, metavar="N", help="truncate texts in the output (default 200)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _block_list(a) -> list[str]:
    words = list(a.block)
    if a.block_file:
        f = Path(a.block_file)
        if not f.is_file():
            raise InputError(f"block list not found: {f}")
        words += [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines()
                  if ln.strip() and not ln.lstrip().startswith("#")]
    return words


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def run(a) -> int:
    from tqdm.auto import tqdm

    from warble.ads.safety import SafetyChecker, category_metrics, read_posts, safe_slots

    if a.window < 0:
        raise ConfigError("--window must be >= 0")
    if a.max_text < 10:
        raise ConfigError("--max-text must be at least 10")
    posts = read_posts(a.file)
    checker = SafetyChecker.load(a.model, taxonomy=a.taxonomy, keywords=_block_list(a))
    tier = checker.taxonomy.tier(a.tier).name
    verdicts = []
    for i in tqdm(range(0, len(posts), BATCH), desc="safety", unit="batch", disable=len(posts) <= BATCH or None):
        verdicts += checker.check([p["text"] for p in posts[i:i + BATCH]], tier=tier)

    by_category = {c: sum(c in v.flagged for v in verdicts) for c in checker.category_names}
    out = {"posts": len(posts), "unsafe": sum(not v.safe for v in verdicts), "by_category": by_category,
           "tier": tier, "taxonomy": checker.taxonomy.source, "classifiers": sorted(checker.classifiers)}
    if not checker.classifiers:
        out["note"] = ("keyword taxonomy only: " + (f"{a.model} has no safety/ classifiers (train them with "
                       "`warble ads train-safety --data DIR --out MODEL_DIR`)" if a.model else "no --model given"))
    results = []
    for p, v in zip(posts, verdicts):
        r = {"text": _short(p["text"], a.max_text), **{k: v for k, v in v.to_dict().items() if k != "risk"},
             "risk": v.risk}
        if "id" in p:
            r = {"id": p["id"], **r}
        results.append(r)
    out["results"] = results
    if a.adjacency:
        slots = safe_slots([v.safe for v in verdicts], a.window)
        out["adjacency"] = {"window": a.window, "slots": slots, "safe_slots": sum(slots)}
    labelled = [p["categories"] for p in posts if isinstance(p.get("categories"), list)]
    if posts and len(labelled) == len(posts):
        cats = [c for c in checker.category_names if any(c in lab for lab in labelled) or by_category.get(c)]
        out["evaluation"] = category_metrics(verdicts, labelled, cats)

    if a.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    source = ", ".join(out["classifiers"]) or "none (keywords only)"
    print(f"{out['posts']} posts, {out['unsafe']} unsafe for tier {tier} (classifiers: {source})")
    counts = " · ".join(f"{c} {n}" for c, n in by_category.items() if n)
    if counts:
        print(f"flagged: {counts}")
    for r in results:
        if not r["safe"]:
            print(f"\nUNSAFE  {_short(r['text'], 100)}")
            for reason in r["reasons"]:
                print(f"        - {reason}")
    if a.adjacency:
        marks = "".join("·" if s else "x" for s in out["adjacency"]["slots"])
        print(f"\nad slots (· safe, x unsafe; slot i is before post i): {marks}")
    if "evaluation" in out:
        print("\ncategory          precision  recall   f1     support")
        for c, m in out["evaluation"].items():
            print(f"{c:17s} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:8d}")
    return 0
