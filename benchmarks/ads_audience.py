"""Speed of audience targeting on an index: learning the communities, loading them from the cache, a brief, a
lookalike. Prints one JSON object (progress on stderr).

    python benchmarks/ads_audience.py --index /tmp/aud_idx --model runs/quickstart/run --repeat 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BRIEFS = [{"product": f"{t} gear", "audience": f"people who love {t}", "topic": t}
          for t in ("football", "cooking", "crypto", "travel", "music", "gaming", "fitness", "space")]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True)
    p.add_argument("--model", help="the run that embedded the index (for brief embeddings)")
    p.add_argument("--communities", type=int)
    p.add_argument("--repeat", type=int, default=20, help="briefs and lookalikes timed (default 20)")
    p.add_argument("--json", action="store_true", help="(always JSON; kept for symmetry with the CLI)")
    a = p.parse_args()

    from warble.ads.audience import TargetOptions, target
    from warble.ads.brief import Brief
    from warble.ads.communities import Communities, LearnOptions, index_state, learn, read_live_posts
    from warble.search.index import SearchIndex

    opts = LearnOptions(k=a.communities)
    with SearchIndex.open(a.index, readonly=True, model=a.model) as idx, tempfile.TemporaryDirectory() as tmp:
        posts, t_read = _timed(lambda: read_live_posts(idx, progress=True))
        comms, t_learn = _timed(lambda: learn(posts, opts, state=index_state(idx), progress=True))
        _, t_save = _timed(lambda: comms.save(Path(tmp)))
        _, t_load = _timed(lambda: Communities.load(Path(tmp)))
        embed = idx.embedder.embed if comms.emb_centroids is not None else None
        _, t_model = _timed(lambda: embed and embed(["warm-up"]))
        briefs = [Brief.from_dict(BRIEFS[i % len(BRIEFS)]) for i in range(a.repeat)]
        kw = [_timed(lambda b=b: target(comms, brief=b, opts=TargetOptions(alpha=0)))[1] for b in briefs]
        full = [_timed(lambda b=b: target(comms, brief=b, embed=embed))[1] for b in briefs]
        seeds = [[comms.authors[(7 * i + j) % len(comms.authors)] for j in range(5)] for i in range(a.repeat)]
        look = [_timed(lambda s=s: target(comms, seeds=s))[1] for s in seeds]

    ms = lambda xs: {"p50_ms": round(1000 * statistics.median(xs), 2), "max_ms": round(1000 * max(xs), 2)}
    print(json.dumps({
        "index": a.index, "posts": len(posts), "authors": len(comms.authors), "k": comms.k,
        "producers": comms.meta["producers"], "read_posts_s": round(t_read, 3), "learn_s": round(t_learn, 3),
        "cache_save_s": round(t_save, 3), "cache_load_s": round(t_load, 3), "model_load_s": round(t_model, 3),
        "brief_keywords_only": ms(kw), "brief_with_embedding": ms(full), "lookalike_5_seeds": ms(look),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
