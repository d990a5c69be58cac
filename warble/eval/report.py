"""`warble report RUN_DIR`: one page per trained model (Markdown and HTML) from what the run directory holds.

It reads, never recomputes: the run's summary, config and metrics; the token shards and corpus the run was trained
on (found through the run's config, or given); and the evaluation results that `warble eval lm | tweeteval |
memorization` saved under RUN/eval/. What is missing is listed with the command that produces it, so a report is
useful at every checkpoint and complete once every evaluation has run. The only model call is a few samples.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warble import __version__
from warble.errors import InputError
from warble.eval.results import load_results
from warble.tokenizer.shards import recorded_source

SAMPLE_CONDITIONS = [{"lang": "en", "reply": False, "engagement": 0}, {"lang": "en", "reply": False, "engagement": 150},
                     {"lang": "en", "reply": True, "engagement": 5}, {"lang": "es", "reply": False, "engagement": 0},
                     {"lang": "ja", "reply": False, "engagement": 20}, {"lang": "fr", "reply": True, "engagement": 0}]
EVALS = {  # name under RUN/eval/ -> the command that writes it
    "lm": "warble eval lm --model {run} --data {tokens} --json",
    "tweeteval": "warble eval tweeteval --model {run} --data ../shared/data/tweeteval --protocol probe --json",
    "memorization": "warble eval memorization --model {run} --json",
}
HTML_STYLE = """body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em}th{background:#f4f4f4}
td{vertical-align:top}img{max-width:100%}code{background:#f4f4f4;padding:0 .2em}.pass{color:#080}.fail{color:#b00}"""


@dataclass
class RunInputs:
    """Where a run's inputs are, as far as they can be found."""

    run: Path
    tokens: Path | None = None
    corpus: Path | None = None
    notes: list[str] = field(default_factory=list)


def locate_inputs(run_dir: str | Path, corpus: str | Path | None = None) -> RunInputs:
    run = Path(run_dir)
    if not (run / "model.json").is_file():
        raise InputError(f"{run} is not a Warble run directory (no model.json); pass the --out of `warble train`")
    found = RunInputs(run)
    if (run / "config.toml").is_file():  # an imported model has none: no shards to find
        from warble.tokenizer.canaries import tokens_dir_for_run

        try:
            found.tokens = tokens_dir_for_run(run)
        except InputError as e:
            found.notes.append(f"the token shards this run trained on cannot be found ({e})")
    if corpus is not None:
        if not (Path(corpus) / "manifest.json").is_file():
            raise InputError(f"--corpus {corpus}: no manifest.json (not a corpus written by `warble ingest`)")
        found.corpus = Path(corpus)
    elif found.tokens is not None:
        found.corpus = recorded_source(found.tokens, "corpus", "manifest.json")
        if found.corpus is None:
            found.notes.append("the corpus behind the token shards is unknown (pass --corpus DIR for its section)")
    return found


def build_report(run_dir: str | Path, *, corpus: str | Path | None = None, samples: int = 6,
                 preamble: list[tuple[str, str]] = (), appendix: list[tuple[str, str]] = (),
                 title: str | None = None, image_prefix: str = "") -> tuple[str, dict]:
    """The report as Markdown, and the facts behind it as a dict (what `--json` prints). `preamble` sections come
    first and `appendix` ones before the list of what is missing (the quickstart puts its simulator and audit, and
    its search and ads demonstrations there); image paths are relative to the run directory, or to wherever the
    page is written with `image_prefix` put before them."""
    inp = locate_inputs(run_dir, corpus)
    run = inp.run
    summary = _json(run / "summary.json")
    model = _json(run / "model.json")
    cfg = _toml(run / "config.toml")
    results = load_results(run)
    facts: dict[str, Any] = {"run": str(run), "summary": summary, "model": model, "evals": results,
                             "gates": _gates(results), "notes": list(inp.notes)}
    sections: list[tuple[str, str]] = list(preamble)
    sections.append(("Data", _data_section(inp, facts)))
    sections.append(("Tokenizer", _tokenizer_section(inp, facts)))
    sections.append(("Model and compute", _compute_section(run, summary, model, cfg, facts, image_prefix)))
    sections.append(("Language modelling", _lm_section(run, results.get("lm"), image_prefix)))
    sections.append(("Downstream: TweetEval", _tweeteval_section(run, results.get("tweeteval"), image_prefix)))
    sections.append(("Safety and privacy gates", _gates_section(results.get("memorization"), facts["gates"])))
    if samples > 0:
        facts["samples"] = _samples(run, samples)
        sections.append(("Samples", _samples_section(facts["samples"])))
    sections += list(appendix)
    missing = [name for name in EVALS if name not in results]
    if missing or inp.notes:
        fmt = {"run": str(run), "tokens": str(inp.tokens or "TOKENS_DIR")}
        body = [f"- `{name}` has not been run: `{EVALS[name].format(**fmt)}`" for name in missing]
        body += [f"- {n}" for n in inp.notes]
        sections.append(("Not in this report", "\n".join(body)))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    verdict = _verdict(facts["gates"])
    head = (f"# {title or f'Warble report: {run.name}'}\n\nWarble {__version__}, {now}. Run directory: `{run}`. "
            f"{verdict}\n")
    numbered = [f"## {i}. {name}\n\n{body.strip()}\n" for i, (name, body) in enumerate(sections, 1)]
    return head + "\n" + "\n".join(numbered), facts


def write_report(run_dir: str | Path, *, out: str | Path | None = None, corpus: str | Path | None = None,
                 samples: int = 6, html_too: bool = True) -> dict:
    """RUN/report.md (and report.html) or OUT/...; returns the facts with the paths written."""
    run = Path(run_dir)
    out_dir = Path(out) if out else run
    prefix = "" if out_dir.resolve() == run.resolve() else _relative(run, out_dir)
    md, facts = build_report(run, corpus=corpus, samples=samples, image_prefix=prefix)  # checks the run first
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": str(out_dir / "report.md")}
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    if html_too:
        (out_dir / "report.html").write_text(markdown_to_html(md, f"Warble report: {run.name}"), encoding="utf-8")
        paths["html"] = str(out_dir / "report.html")
    facts["written"] = paths
    return facts


def markdown_to_html(md: str, title: str) -> str:
    import markdown

    body = markdown.markdown(md, extensions=["tables", "fenced_code"])
    body = body.replace("<strong>PASS</strong>", '<strong class="pass">PASS</strong>')
    body = body.replace("<strong>FAIL</strong>", '<strong class="fail">FAIL</strong>')
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{HTML_STYLE}</style></head><body>\n{body}\n</body></html>\n")


# ------------------------------------------------------------------------------------------------ sections
def _data_section(inp: RunInputs, facts: dict) -> str:
    from warble.data.summary import manifest_markdown

    if inp.corpus is None:
        return "The corpus is not known to this report (pass `--corpus DIR`)."
    m = _json(inp.corpus / "manifest.json")
    facts["corpus"] = {k: m.get(k) for k in ("read", "kept", "quarantined", "filtered", "splits", "languages")}
    return f"Corpus `{inp.corpus}` (written by `warble ingest`).\n\n{manifest_markdown(m)}"


def _tokenizer_section(inp: RunInputs, facts: dict) -> str:
    run = inp.run
    rep = {}
    meta = _json(inp.tokens / "meta.json") if inp.tokens else {}
    source = recorded_source(inp.tokens, "tokenizer", "report.json") if inp.tokens else None
    for cand in ([source] if source else []) + [run / "tokenizer"]:
        if (cand / "report.json").is_file():
            rep = _json(cand / "report.json")
            break
    facts["tokenizer"] = {"bytes_per_token": rep.get("bytes_per_token"), "vocab_size": rep.get("vocab_size")}
    lines = []
    size = rep.get("vocab_size")
    if not size and (run / "tokenizer" / "tokenizer.json").is_file():
        from warble.tokenizer.tokenizer import Tokenizer

        size = Tokenizer.load(run / "tokenizer").vocab_size
    if size:
        lines.append(f"Byte-level BPE, {size:,} tokens.")
    if rep.get("bytes_per_token"):
        lines.append(f"**{rep['bytes_per_token']:.2f} bytes per token** on {rep.get('validation_posts', 0):,} "
                     "validation posts.")
    else:
        lines.append("Bytes per token: the tokenizer's training report was not found.")
    if meta.get("splits"):
        rows = [f"| {name} | {s.get('docs', 0):,} | {s.get('tokens', 0):,} |" for name, s in meta["splits"].items()]
        lines += ["", "| split | posts | tokens |", "|---|---:|---:|", *rows,
                  "", f"Shards: {meta.get('dtype')}, metadata prefixes {'on' if meta.get('metadata_prefix') else 'off'}."]
    return "\n".join(lines)


def _compute_section(run: Path, s: dict, model: dict, cfg: dict, facts: dict, prefix: str) -> str:
    if not s:
        return "No summary.json: the run has not finished (a report of a running job shows its checkpoints only)."
    mfu = _mean_mfu(run / "metrics.jsonl")
    total_flops = s.get("flops_per_token", 0) * s.get("tokens", 0)
    facts["compute"] = {"params": s.get("params"), "tokens": s.get("tokens"), "flops": total_flops,
                        "seconds": s.get("seconds"), "tokens_per_s": s.get("tokens_per_s"), "mfu": mfu}
    shape = ", ".join(f"{k} {model[k]}" for k in ("n_layers", "d_model", "n_heads", "n_kv_heads", "vocab_size",
                                                  "max_seq_len") if k in model)
    rows = [("preset", cfg.get("preset") or "-"), ("shape", shape or "-"),
            ("parameters", f"{s.get('params', 0) / 1e6:.2f}M"),
            ("training tokens", (f"{s.get('tokens', 0):,} ({s.get('steps')} steps of {cfg.get('global_batch')} x "
                                f"{cfg.get('seq_len')})")),
            ("compute", f"{total_flops:.3g} FLOPs ({s.get('flops_per_token', 0) / 1e6:.0f} MFLOP/token)"),
            ("wall time", f"{s.get('seconds', 0):.0f} s"), ("throughput", f"{s.get('tokens_per_s', 0):,.0f} tokens/s"),
            ("MFU", f"{100 * mfu:.1f}% (mean over logged steps, against this machine's measured peak matmul rate)" if mfu is not None else "-"),
            ("parallelism", f"{s.get('parallel')} x {s.get('world_size')}, {cfg.get('dtype')}")]
    if "val_loss" in s:
        rows.append(("final validation", f"loss {s['val_loss']:.3f} nats/token, {s['val_bpb']:.3f} bits/byte"))
    table = "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])
    img = f"\n\n![loss curve]({prefix}loss.png)" if (run / "loss.png").is_file() else ""
    return table + img


def _lm_section(run: Path, r: dict | None, prefix: str) -> str:
    if not r:
        return "Not evaluated yet (see the last section)."
    lines = [(f"Held-out posts ({r.get('split', 'validation')} split): **loss {_f(r.get('loss'))}** nats/token, "
              f"**perplexity {_f(r.get('perplexity'), 2)}**, **{_f(r.get('bpb'))} bits per byte** "
              f"({_n(r.get('tokens'))} tokens, {_n(r.get('posts'))} posts).")]
    for key, title in (("by_lang", "language"), ("by_time", "time")):
        rows = r.get(key) if isinstance(r.get(key), dict) else {}
        body = [f"| {name}{' (after training)' if v.get('after_training') else ''} | {_n(v.get('posts'))} | "
                f"{_f(v.get('loss'))} | {_f(v.get('bpb'))} |" for name, v in rows.items() if isinstance(v, dict)]
        if body:
            lines += ["", f"| {title} | posts | loss | bits/byte |", "|---|---:|---:|---:|", *body]
    after = r.get("after_training")
    if isinstance(after, dict):
        lines += ["", (f"Posts newer than the training data ({r.get('trained_until')}): "
                       + (after["note"] if after.get("note") else
                          f"{_n(after.get('posts'))} posts, {_f(after.get('bpb'))} bits per byte") + ".")]
    for key, why in (r.get("unavailable") or {}).items():
        lines += ["", f"No `{key}` slices: {why}."]
    plot = _plot_by_time(run, r.get("by_time"))
    if plot:
        lines += ["", f"![bits per byte by {r.get('time_bucket', 'month')}]({prefix}{plot})"]
    return "\n".join(lines)


def _tweeteval_section(run: Path, r: dict | None, prefix: str) -> str:
    if not r:
        return "Not evaluated yet (see the last section)."
    tasks = r.get("tasks", {})
    rows = [f"| {name} | {t.get('metric', '-')} | {t.get('split') or '-'} | {_f(t.get('score'), 1)} | "
            f"{table_cell(t.get('note'))} |" for name, t in tasks.items() if isinstance(t, dict)]
    lines = [(f"Protocol: **{r.get('protocol', '?')}**. Overall **{_f(r.get('overall'), 1)}** "
              f"({r.get('overall_note', 'mean of the task scores')})."), "",
             "| task | metric | split | score | note |", "|---|---|---|---:|---|", *rows]
    base = (r.get("baselines") or {}).get("overall") or {}
    if base:
        lines += ["", "Published baselines (overall, test splits): "
                  + ", ".join(f"{k} {_f(v, 1)}" for k, v in base.items()) + "."]
    plot = _plot_tweeteval(run, tasks, r.get("overall"), base)
    if plot:
        lines += ["", f"![TweetEval scores]({prefix}{plot})"]
    return "\n".join(lines)


def _gates_section(mem: dict | None, gates: dict) -> str:
    if not mem:
        return "Not evaluated yet: no gate has been checked (see the last section)."
    lines = []
    if gates:
        lines += ["| gate | result | why |", "|---|---|---|"]
        lines += [f"| {n} | **{_GATE_WORD[g.get('passed')]}** | {table_cell(g.get('reason', ''))} |"
                  for n, g in gates.items()]
    can = mem.get("canaries")
    if isinstance(can, dict) and can:
        lines += ["", ("Canaries (\"The Secret Sharer\": random secrets planted in the training shards): exposure "
                       "in bits, up to log2 of the secrets possible; higher means memorized. *extracted*: the share "
                       "whose secret greedy decoding writes out from the canary's prefix."), "",
                  "| planted | canaries | mean exposure | max exposure | of at most | extracted |",
                  "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {k}x | {_n(v.get('canaries'))} | {_f(v.get('exposure_mean'), 2)} | "
                  f"{_f(v.get('exposure_max'), 2)} | {_f(v.get('log2_space'), 2)} | {_pct(v.get('extracted'))} |"
                  for k, v in can.items() if isinstance(v, dict)]
    elif "canaries" in mem:
        lines += ["", "No canaries were planted in this run's training data (`warble tokenize --canaries 1,10,100`)."]
    ext = mem.get("extraction") or {}
    rows = [(split, ext[split]) for split in ("train", "validation") if isinstance(ext.get(split), dict)]
    if rows:
        lines += ["", (f"Verbatim extraction: prompted with a post's first {ext.get('prefix_tokens')} tokens, how "
                       f"often greedy decoding writes its next {ext.get('suffix_tokens')} exactly (validation posts, "
                       "never trained on, are the control)."), "",
                  "| posts | prompted | exact | rate |", "|---|---:|---:|---:|"]
        lines += [f"| {split} | {_n(r.get('posts'))} | {_n(r.get('exact'))} | {_pct(r.get('rate'))} |"
                  for split, r in rows]
    pii = mem.get("pii")
    if isinstance(pii, dict):
        lines += ["", (f"Personal data: {_n(pii.get('with_email_or_phone'))} of {_n(pii.get('samples'))} "
                       f"unconditioned generations hold an e-mail address or phone number ({_pct(pii.get('rate'))}).")]
    q = mem.get("quality")
    if isinstance(q, dict):
        nov = q.get("novelty") or {}
        lines += ["", (f"Generation quality ({_n(q.get('samples'))} samples): distinct-1 {_f(q.get('distinct_1'))}, "
                       f"distinct-2 {_f(q.get('distinct_2'))}, self-BLEU {_f(q.get('self_bleu'))}"
                       + "".join(f", novelty of {k}-grams {_f(v)}" for k, v in nov.items())
                       + (f", copies of training text {_pct(q.get('copied'))}" if q.get("copied") is not None
                          else "") + ".")]
    return "\n".join(lines) or "No gate results in eval/memorization.json."


def _samples_section(samples: list[dict]) -> str:
    rows = [f"| {', '.join(f'{k}={v}' for k, v in s['conditions'].items())} | {table_cell(s['text'], '(empty)')} |"
            for s in samples]
    return ("Each from [bos] and its metadata control tokens (temperature 0.8, top-k 50, through the serving "
            "engine):\n\n| conditions | sampled post |\n|---|---|\n" + "\n".join(rows))


# ------------------------------------------------------------------------------------------------ pieces
def _gates(results: dict) -> dict[str, dict]:
    """Every gate the evaluations decided: a result's `gate` ({passed, reason}) or `gates` ({name: {...}})."""
    gates = {}
    for name, r in results.items():
        if not isinstance(r, dict):
            continue
        if isinstance(r.get("gate"), dict):
            gates[name] = r["gate"]
        for g, v in (r.get("gates") or {}).items():
            if isinstance(v, dict):
                gates[f"{name}.{g}"] = v
    return gates


_GATE_WORD = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}


def _verdict(gates: dict) -> str:
    checked = {n: g for n, g in gates.items() if g.get("passed") is not None}  # None: nothing to measure
    if not checked:
        return "No safety gate has been checked yet."
    failed = [n for n, g in checked.items() if g.get("passed") is False]
    return f"Gates: **FAIL** ({', '.join(failed)})." if failed else f"Gates: **PASS** ({len(checked)} checked)."


def _samples(run: Path, n: int) -> list[dict]:
    from warble.serve.engine import Engine
    from warble.serve.types import SamplingParams

    conds = [SAMPLE_CONDITIONS[i % len(SAMPLE_CONDITIONS)] for i in range(n)]
    with Engine.load(run) as engine:
        params = [SamplingParams(max_tokens=48, temperature=0.8, top_k=50, seed=i, conditions=c)
                  for i, c in enumerate(conds)]
        completions = engine.generate([""] * n, params)
    return [{"conditions": c, "text": x.text} for c, x in zip(conds, completions)]


def _mean_mfu(metrics: Path) -> float | None:
    if not metrics.is_file():
        return None
    vals = [r["mfu"] for r in map(json.loads, filter(str.strip, metrics.read_text().splitlines()))
            if r.get("mfu") is not None and r.get("step", 0) > 1]  # step 1 pays for warm-up
    return sum(vals) / len(vals) if vals else None


def _plot_by_time(run: Path, by_time: Any) -> str | None:
    rows = by_time if isinstance(by_time, dict) else {}
    pts = [(k, v["bpb"]) for k, v in sorted(rows.items())
           if k != "unknown" and isinstance(v, dict) and v.get("bpb") is not None]
    if len(pts) < 2:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=120)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-")
    ax.set_ylabel("bits per byte")
    ax.set_title("held-out posts by time: does the model age?")
    ax.tick_params(axis="x", rotation=45)
    ax.grid(alpha=0.3)
    return _save(fig, plt, run, "lm_by_time.png")


def _plot_tweeteval(run: Path, tasks: dict, overall: Any, baselines: dict) -> str | None:
    """Scores per task (percent) beside the published overall baselines."""
    scores = {k: v["score"] for k, v in tasks.items() if isinstance(v, dict) and isinstance(v.get("score"), (int, float))}
    if not scores:
        return None
    if isinstance(overall, (int, float)):
        scores["overall"] = overall
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=120)
    ax.bar(list(scores), list(scores.values()), color="#4a7ab5")
    for label, v in baselines.items():
        ax.axhline(v, linestyle="--", linewidth=0.8, color="#999")
        ax.text(len(scores) - 0.5, v, f" {label}", fontsize=7, va="center")
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, plt, run, "tweeteval.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, plt, run: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(run / name)
    plt.close(fig)
    return name


def _relative(run: Path, out_dir: Path) -> str:
    import os

    return os.path.relpath(run.resolve(), out_dir.resolve()).replace(os.sep, "/") + "/"


def _json(p: Path) -> dict:
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _toml(p: Path) -> dict:
    try:
        return tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _pct(v: Any) -> str:
    """A fraction as a percentage."""
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def _f(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "-"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def table_cell(text: Any, empty: str = "") -> str:
    """Text for one Markdown table cell: pipes escaped, on one line."""
    return str(text or "").replace("|", "\\|").replace("\n", " ").strip() or empty
