"""`warble ads generate`: candidate promoted posts for a brief, checked, ranked and saved as drafts for review."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from warble.errors import ConfigError, InputError

HELP = "write N checked, ranked ad-copy candidates for a brief with the Warble model (saved as drafts)"
DESCRIPTION = """\
Generate candidate promoted posts for an ad brief (JSON: product, brand, facts, call_to_action, url, audience,
topic, tone, lang, must_include, must_avoid, max_chars) with a trained Warble model, conditioned on its metadata
control tokens. Decoding keeps the length limit and the banned words out; every candidate is checked (length,
required and banned words, brand safety, facts, memorization of training posts, links), those that pass are ranked
by predicted engagement and diversity (MMR), and all are saved as drafts that need approval (`warble ads drafts`).

  warble ads generate --model run/ --brief brief.json --n 8 --json
  warble ads generate --model run/ --brief brief.json --engagement eng/ --lambda 0.5 --drafts ads_drafts/
"""

DEFAULT_DRAFTS = "ads_drafts"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="RUN", help="trained run directory (Engine.load)")
    p.add_argument("--brief", required=True, metavar="FILE", help="the ad brief, JSON")
    p.add_argument("--n", type=int, default=8, help="candidates to return (1-64, default 8)")
    p.add_argument("--oversample", type=int, default=3,
                   help="draw N x this many candidates so that N survive the checks (default 3)")
    p.add_argument("--lambda", dest="lam", type=float, default=0.7,
                   help="MMR trade-off: 1 = by predicted engagement only, lower = more variety (default 0.7)")
    p.add_argument("--seed", type=int, default=0, help="first sampling seed (candidate i uses seed + i)")
    p.add_argument("--engagement", metavar="DIR", help="engagement model (`warble ads train-engagement`) to rank "
                   "by; default: the Warble model's own high-vs-low engagement contrast")
    p.add_argument("--safety-model", metavar="DIR", help="brand-safety classifiers (default: keyword taxonomy only)")
    p.add_argument("--safety-tier", default="standard", help="advertiser sensitivity tier (default standard)")
    p.add_argument("--safety-keywords", metavar="FILE", help="advertiser's extra unsafe keywords, one per line")
    p.add_argument("--drafts", default=DEFAULT_DRAFTS, metavar="DIR",
                   help=f"where drafts and the audit log are saved (default ./{DEFAULT_DRAFTS})")
    p.add_argument("--no-drafts", action="store_true", help="do not save drafts (a dry run)")
    p.add_argument("--by", default=None, metavar="NAME", help="who asks, for the audit log (default: $USER)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for the model (default 1: on a busy 2-core machine 1 thread took 3.4 s per "
                        "brief, 2 threads 54 s; raise it on an idle many-core machine)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def load_tools(model: str, *, safety_model: str | None = None, keywords: tuple[str, ...] = (),
               engagement: str | None = None, engine=None, progress: bool = False) -> tuple[dict, dict[str, str]]:
    """The optional helpers of the checks and the ranking: {"safety", "guard", "engagement"} (None where absent)
    and why each absent check will not run. `engine` (the loaded model) serves the engagement model's Warble head."""
    tools: dict = {"safety": None, "guard": None, "engagement": None}
    skipped: dict[str, str] = {}
    try:
        from warble.ads.safety import SafetyChecker
    except ImportError as e:
        skipped["brand_safety"] = f"warble.ads.safety is not available ({e})"
    else:
        tools["safety"] = SafetyChecker.load(model_dir=safety_model, keywords=keywords)
    try:
        from warble.data.ngrams import NgramIndex
    except ImportError as e:
        skipped["memorization"] = f"warble.data.ngrams is not available ({e})"
    else:
        try:
            tools["guard"] = NgramIndex.for_run(model, n=8, progress=progress)
        except InputError as e:  # e.g. an imported model whose training text is not here
            skipped["memorization"] = f"no training-text index for {model}: {e}"
    if engagement:
        from warble.ads.engagement import EngagementModel

        tools["engagement"] = EngagementModel.load(engagement, engine=engine)
    return tools, skipped


def _keywords(path: str | None) -> tuple[str, ...]:
    if not path:
        return ()
    try:
        with open(path, encoding="utf-8") as f:
            return tuple(line.strip() for line in f if line.strip() and not line.startswith("#"))
    except OSError as e:
        raise InputError(f"--safety-keywords: cannot read {path}: {e.strerror}") from None


def run(a) -> int:
    from warble.ads.brief import Brief

    if not 1 <= a.n <= 64:
        raise ConfigError(f"--n must be between 1 and 64, got {a.n}")
    if not 1 <= a.oversample <= 10:
        raise ConfigError(f"--oversample must be between 1 and 10, got {a.oversample}")
    if not 0 <= a.lam <= 1:
        raise ConfigError(f"--lambda must be between 0 and 1, got {a.lam}")
    brief = Brief.load(a.brief)
    if not os.path.isdir(a.model):
        raise InputError(f"--model: no run directory at {a.model}")

    from tqdm import tqdm

    from warble.ads.copy import generate_ads
    from warble.ads.drafts import DraftStore
    from warble.serve.engine import Engine

    bar = tqdm(total=2, desc="ads", file=sys.stderr, disable=a.no_progress)
    bar.set_postfix_str("loading the model and checks")
    keywords = _keywords(a.safety_keywords)
    store = None if a.no_drafts else DraftStore.open(a.drafts)
    engine = Engine.load(a.model, device=a.device, threads=a.threads)
    try:
        tools, skipped = load_tools(a.model, safety_model=a.safety_model, keywords=keywords, engagement=a.engagement,
                                    engine=engine, progress=not a.no_progress)
    except BaseException:
        engine.shutdown()
        raise
    bar.update()
    bar.set_postfix_str(f"writing {a.n * a.oversample} candidates")
    try:
        out = generate_ads(engine, brief, a.n, oversample=a.oversample, seed=a.seed, lam=a.lam,
                           engagement=tools["engagement"], safety=tools["safety"], safety_tier=a.safety_tier,
                           guard=tools["guard"], skipped=skipped, store=store, actor=_who(a.by),
                           model_id=os.path.abspath(a.model))
    finally:
        engine.shutdown()
    bar.update()
    bar.close()
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print_summary(out)
    return 0


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "warble ads generate"


def print_summary(out: dict) -> None:
    print(f"{len(out['candidates'])} candidates, {len(out['rejected'])} rejected, {out['seconds']:.1f} s")
    for c in out["candidates"]:
        print(f"\n#{c['rank']} [{c['id'] or '-'}] score {c['score']:+.3f}, {c['chars']} chars")
        print(f"  {c['post']}")
        for r in c["reasons"]:
            print(f"  - {r}")
    if out["rejected"]:
        print("\nrejected:")
        for c in out["rejected"]:
            print(f"  [{c['id'] or '-'}] {c['text'][:70]!r}: {'; '.join(c['reasons'])[:160]}")
    for note in out["notes"]:
        print(f"note: {note}")
    if out["drafts"]:
        print(f"\ndrafts: {out['drafts']} (approve with `warble ads drafts approve ID --by NAME`)")
