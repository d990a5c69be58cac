"""`warble quickstart`: the whole pipeline on the embedded default corpus, ending in the model's report card.

Each stage adds a step here and a section to the report, so the quickstart always shows what Warble can do end to
end on this machine, with the numbers it measured. It must stay under 10 minutes on 2 cores.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from warble.data.audit import audit_against_truth, audit_markdown
from warble.errors import InputError
from warble.eval.report import build_report, markdown_to_html, table_cell


def _log(msg: str) -> None:
    print(f"[quickstart] {msg}", file=sys.stderr, flush=True)


def run_quickstart(out_dir: str | Path, *, posts: int = 50_000, seed: int = 0, workers: int = 0,
                   preset: str = "cpu", train_steps: int = 400, progress: bool = True) -> Path:
    from warble.data.pipeline import IngestConfig, run_ingest
    from warble.data.synth import synthesize
    from warble.tokenizer import tokenize_corpus, train_tokenizer

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        # Its directory is its own scratch space, replaced on every run, but only if it is one of its own.
        if not (out / "quickstart.json").exists():
            raise InputError(f"{out} exists and is not a quickstart directory; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}  # step -> seconds, once it is done
    starts: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, n: int, what: str):
        _log(f"{n}/{STEPS} {name}: {what}")
        starts[name] = time.perf_counter()

    def done(name: str) -> None:
        timings[name] = time.perf_counter() - starts[name]

    step("synth", 1, f"simulating a platform with {posts:,} posts")
    synth = synthesize(out / "raw", posts, seed=seed, workers=max(1, workers or 2), progress=progress)
    done("synth")

    step("ingest", 2, "raw dump -> clean corpus")
    manifest = run_ingest([str(out / "raw")], out / "data", IngestConfig(workers=workers), progress=progress,
                          log=_log)
    done("ingest")

    step("tokenizer", 3, "byte-level BPE on the corpus, then token shards")
    tok_report = train_tokenizer(out / "data", out / "tokenizer", vocab_size=8192, progress=progress)
    # With metadata prefixes, so the model learns what the control tokens mean and samples can be conditioned.
    # Canaries (random secrets planted 1, 10 and 100 times) let the memorization gate measure what the model keeps.
    tokenize_corpus(out / "data", out / "tokenizer", out / "tokens", workers=workers, metadata_prefix=True,
                    progress=progress, canaries=CANARIES)
    done("tokenizer")

    step("train", 4, f"pretraining the {preset} preset for {train_steps} steps")
    summary = _train(out, preset, train_steps, seed)
    done("train")

    step("evaluate", 5, "held-out loss by language and time; canaries, extraction, personal data, quality")
    evals = _evaluate(out, seed, progress)
    done("evaluate")

    step("applications", 6, "search index, searches and an answer; ad copy for a brief, checked and ranked")
    apps = _applications(out, seed, progress)
    done("applications")

    step("report", STEPS, "checking the corpus against the ground truth, writing the report card")
    audit = audit_against_truth(out / "raw", out / "data")
    timings["total (before the report)"] = time.perf_counter() - started
    preamble = [("Simulated platform (`warble synth`)", _synth_section(synth, seed)),
                ("The corpus against the simulator's ground truth", _audit_section(audit)),
                ("Wall time of this quickstart", _timings_section(timings))]
    md, facts = build_report(out / "run", corpus=out / "data", samples=6, preamble=preamble,
                             appendix=[("Search (`warble index`, `warble search`)", apps["search_md"]),
                                       ("Ads (`warble ads generate`)", apps["ads_md"])],
                             title="Warble quickstart report", image_prefix="run/")
    report = out / "report.md"
    report.write_text(md, encoding="utf-8")
    (out / "report.html").write_text(markdown_to_html(md, "Warble quickstart report"), encoding="utf-8")
    done("report")
    timings["total"] = time.perf_counter() - started
    (out / "quickstart.json").write_text(json.dumps({
        "posts": posts, "seed": seed, "seconds": timings, "synth": synth, "audit": audit,
        "corpus": {k: manifest[k] for k in ("read", "kept", "quarantined", "filtered")},
        "tokenizer": tok_report, "train": summary, "evals": evals, "gates": facts["gates"],
        "search": apps["search"], "ads": apps["ads"],
        "samples": facts.get("samples")}, indent=2, default=str))
    _log(f"done in {time.perf_counter() - started:.0f} s")
    return report


STEPS = 7
CANARIES = "1,10,100"  # one canary per repetition count
# What the applications step shows: searches in the platform's syntax, a question, and an ad brief.
DEMO_QUERIES = ["football -filter:replies", "#music lang:en", "(concert OR festival) min_faves:1"]
DEMO_QUESTION = "what happened at the match?"
CHECK_WORD = {True: "ok", False: "FAIL", None: "n/a"}  # an ad check passed, failed, or could not run
DEMO_BRIEF = {"product": "Trailrunner 2 running shoes", "brand": "Acme", "facts": ["weighs 220 g", "free returns"],
              "call_to_action": "Try them", "url": "https://acme.example/tr2", "topic": "fitness", "lang": "en",
              "must_include": ["Trailrunner"], "must_avoid": ["cheap"]}


def _train(out: Path, preset: str, steps: int, seed: int) -> dict:
    """Train in this process (bf16 autocast: ~2.5x fp32 on CPU)."""
    from warble.train.config import TrainConfig
    from warble.train.loop import train

    run = out / "run"
    cfg = TrainConfig(data=str(out / "tokens"), preset=preset, steps=steps, global_batch=8, seq_len=256,
                      dtype="bf16", seed=seed, log_every=max(1, steps // 20), eval_every=max(1, steps // 4),
                      ckpt_every=0)
    return train(cfg, run)


def _evaluate(out: Path, seed: int, progress: bool) -> dict:
    """`warble eval lm` and `warble eval memorization` on the run; each saves its result under run/eval/, where the
    report reads them. The gate counts the canaries planted once: the corpus is deduplicated, so a secret seen once
    is the realistic risk; the 10x and 100x canaries show that the measurement sees memorization where it exists."""
    from warble.eval.lm import evaluate_lm
    from warble.eval.memorization import MemorizationConfig, run_memorization
    from warble.eval.results import save_result

    run = out / "run"
    lm = evaluate_lm(run, out / "tokens", corpus_dir=out / "data", progress=progress)
    save_result(run, "lm", lm)
    mem = run_memorization(run, MemorizationConfig(seed=seed, gate_max_repetitions=1, progress=progress))
    return {"lm": {k: lm.get(k) for k in ("loss", "perplexity", "bpb")}, "memorization_gate": mem.get("gate")}


def _applications(out: Path, seed: int, progress: bool) -> dict:
    """The model at work, through the same public functions as the commands: a hybrid index of the corpus (every
    post embedded by the model), searches, an extractive answer with checked citations, and ad copy for a brief
    with every check reported. One engine serves the searches, the answer and the ads (`index_corpus` loads the
    model once more to embed the posts, as `warble index --model` does)."""
    from warble.ads.brief import Brief
    from warble.ads.copy import generate_ads
    from warble.ads.safety import SafetyChecker
    from warble.data.ngrams import NgramIndex
    from warble.search.answer import AnswerOptions, EngineEmbedder, answer
    from warble.search.index import SearchIndex
    from warble.search.index.build import index_corpus
    from warble.serve.engine import Engine

    run = out / "run"
    built = index_corpus(out / "data", out / "index", model=str(run), progress=progress)
    with Engine.load(run) as engine:
        idx = SearchIndex.open(out / "index", readonly=True, embedder=EngineEmbedder(engine, str(run)))
        try:
            searches = {q: [h.to_dict() for h in idx.search(q, limit=3)] for q in DEMO_QUERIES}
            ans = answer(idx, engine, DEMO_QUESTION, AnswerOptions(mode="extractive"))
        finally:
            idx.close()
        ads = generate_ads(engine, Brief.from_dict(DEMO_BRIEF), n=4, seed=seed, safety=SafetyChecker.load(None),
                           guard=NgramIndex.for_run(run))
    search_md = [(f"`index/`: {built['posts']:,} posts: tantivy BM25, an HNSW index of the model's post embeddings "
                  f"({built.get('posts_per_s') or 0:,.0f} posts/s indexed) and the SQLite store of record. Top 3 of "
                  "each query, hybrid (reciprocal rank fusion):")]
    for q, hits in searches.items():
        search_md += ["", f"`{q}`", "", "| author | likes | post |", "|---|---:|---|"]
        search_md += [f"| @{h['author_handle'] or h['author_id']} | {h['like_count'] if h['like_count'] is not None else '-'} "
                      f"| {table_cell(h['text'], '(empty)')} |" for h in hits] or ["| | | (no results) |"]
    search_md += ["", f"Question: *{DEMO_QUESTION}* (extractive answer; every citation checked against the store):",
                  "", f"> {table_cell(ans['answer'], '(empty)')}"]
    ads_md = [f"Brief: `{json.dumps(DEMO_BRIEF)}`", "",
              (f"{len(ads['candidates'])} candidates kept, {len(ads['rejected'])} rejected, in "
              f"{ads['seconds']:.1f} s. Kept, best first:"), "", "| # | copy | chars | checks |", "|---:|---|---:|---|"]
    ads_md += [f"| {c['rank']} | {table_cell(c['post'], '(empty)')} | {c['chars']} | "
               f"{', '.join(ch['name'] + ' ' + CHECK_WORD[ch['passed']] for ch in c['checks'])} |"
               for c in ads["candidates"]]
    reasons = {}
    for r in ads["rejected"]:
        for f in r.get("failed", []):
            reasons[f] = reasons.get(f, 0) + 1
    if reasons:
        ads_md += ["", "Rejected by: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + "."]
    return {"search": {"indexed": built, "queries": searches, "answer": ans}, "ads": ads,
            "search_md": "\n".join(search_md), "ads_md": "\n".join(ads_md)}


def _counts_table(title: str, counts: dict) -> str:
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    return "\n".join([f"| {title} | posts |", "|---|---:|", *(f"| {k} | {v:,} |" for k, v in rows)])


def _synth_section(synth: dict, seed: int) -> str:
    return f"""{synth['posts']:,} posts (seed {seed}) by {synth['users']:,} users ({synth['bots']:,} bots), written as Twitter
API v2 responses to `raw/` at {synth['posts_per_second']:,.0f} posts/s, plus {synth['malformed_records']} malformed
records and the ground truth under `raw/_truth/`.

{_counts_table("kind", synth["kinds"])}

{_counts_table("language", synth["langs"])}

Planted personal data: {synth['posts_with_pii']:,} posts ({', '.join(f"{k} {v}" for k, v in sorted(synth['pii'].items()))})."""


def _audit_section(audit: dict) -> str:
    return f"""{audit_markdown(audit)}

Short generic replies and quotes ("facts", "say it louder") are exact duplicates of each other, so dedup removes
most copies of them: that is why fewer replies and quotes than originals are kept."""


def _timings_section(timings: dict) -> str:
    rows = "\n".join(f"| {k} | {v:.1f} |" for k, v in timings.items())
    return f"| step | seconds |\n|---|---:|\n{rows}"
