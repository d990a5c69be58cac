"""The `warble` command: one entry point, each subcommand a thin wrapper over a stage's public function.

Errors the user can act on (`WarbleError`) become one clear line on stderr and exit code 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from warble import __version__
from warble.errors import WarbleError


def _add_config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="TOML file with defaults for this command (flags win)")


def _bool_flag(p: argparse.ArgumentParser, name: str, help: str) -> None:
    p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=help)


# ---------------------------------------------------------------------------------------------------- synth
def _synth_parser(sub) -> None:
    p = sub.add_parser("synth", help="generate the embedded default corpus: a simulated social platform",
                       description="Write a seeded, deterministic simulated platform dump (Twitter API v2 JSONL by "
                                   "default) with planted duplicates, spam, personal data and malformed records, "
                                   "plus ground truth under OUT/_truth/.")
    p.add_argument("--posts", type=int, default=20_000, help="number of posts (default 20000; tested 1k to 10M)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--format", dest="fmt", choices=["twitter_v2", "warble"], default="twitter_v2",
                   help="twitter_v2: API v2 responses, one per line; warble: Warble's own schema (JSONL)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes (output does not depend on it)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_synth)


def _cmd_synth(a) -> int:
    from warble.data.synth import synthesize

    if a.posts < 1:
        raise WarbleError("--posts must be at least 1")
    summary = synthesize(a.out, a.posts, seed=a.seed, fmt=a.fmt, workers=a.workers, progress=not a.no_progress)
    print(json.dumps(summary, indent=2, default=str))
    return 0


# ---------------------------------------------------------------------------------------------------- ingest
STAGES = ("normalize", "placeholders", "pii", "langid", "quality", "dedup")  # = fields of pipeline.StageSwitches
FORMATS = ("twitter_v2", "twitter_v1", "x_archive", "warble", "csv", "parquet", "text")  # = readers.FORMATS


def _ingest_parser(sub) -> None:
    p = sub.add_parser(
        "ingest", help="clean raw post dumps into a Parquet corpus",
        description="Read post dumps (Twitter API v2/v1.1 JSON, X archives, Warble JSONL, CSV, Parquet, plain text; "
                    "gzip/zstd transparent), quarantine malformed records, apply compliance lists, normalize, "
                    "scrub personal data, identify languages, filter spam, remove exact and near duplicates, and "
                    "write OUT/corpus/{train,validation}/*.parquet, OUT/quarantine/, OUT/manifest.json.\n\n"
                    "With --apply-deletions and no INPUT: remove opted-out authors and deleted posts from the "
                    "existing corpus in OUT.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files or directories (recursed)")
    p.add_argument("--out", required=True, help="output directory")
    _add_config_flag(p)
    p.add_argument("--format", choices=FORMATS,
                   help="input format for every file (default: detect per file)")
    p.add_argument("--executor", choices=["local", "ray"], help="local processes (default) or a Ray cluster "
                   "(RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("--workers", type=int, help="parallel processes (default: one per core)")
    p.add_argument("--opt-out", action="append", metavar="FILE", help="author ids to exclude, one per line")
    p.add_argument("--deletions", action="append", metavar="FILE", help="post ids to exclude, one per line")
    p.add_argument("--apply-deletions", action="store_true",
                   help="remove --opt-out/--deletions ids from the existing corpus in OUT (no INPUT)")
    p.add_argument("--langs", help="comma-separated language allow-list, e.g. en,es (default: all)")
    p.add_argument("--mentions", choices=["keep", "placeholder"], help="keep @mentions or replace with @user")
    p.add_argument("--urls", choices=["keep", "placeholder"], help="keep links or replace with http")
    p.add_argument("--near-dup-threshold", type=float, metavar="J",
                   help="Jaccard similarity (char 5-grams) at which posts are near duplicates (default 0.7)")
    p.add_argument("--validation-fraction", type=float, help="share of conversations held out (default 0.02)")
    for stage in STAGES:
        _bool_flag(p, stage, f"run the {stage} stage (default: on)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing corpus in OUT")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=_cmd_ingest)


def ingest_config_from_args(a):
    """IngestConfig from the TOML file (if any), with the flags given on the command line on top."""
    from dataclasses import replace

    from warble.config import from_dict, load_toml
    from warble.data.pipeline import IngestConfig

    cfg = from_dict(IngestConfig, load_toml(a.config))
    top = {k: getattr(a, k) for k in ("format", "executor", "workers", "validation_fraction")
           if getattr(a, k) is not None}
    if a.opt_out:
        top["opt_out"] = list(a.opt_out)
    if a.deletions:
        top["deletions"] = list(a.deletions)
    if a.langs:
        top["langid"] = replace(cfg.langid, allow=tuple(x.strip() for x in a.langs.split(",") if x.strip()))
    placeholders = {k: getattr(a, k) for k in ("mentions", "urls") if getattr(a, k)}
    if placeholders:
        top["placeholders"] = replace(cfg.placeholders, **placeholders)
    if a.near_dup_threshold is not None:
        top["dedup"] = replace(cfg.dedup, threshold=a.near_dup_threshold)
    switches = {s: getattr(a, s) for s in STAGES if getattr(a, s) is not None}
    if switches:
        top["stages"] = replace(cfg.stages, **switches)
    return replace(cfg, **top)


def _cmd_ingest(a) -> int:
    from warble.data.compliance import ComplianceLists
    from warble.data.pipeline import apply_deletions, run_ingest

    log = (lambda *x, **k: print(*x, file=sys.stderr, **k))
    if a.apply_deletions:
        if a.inputs:
            raise WarbleError("--apply-deletions works on the corpus in --out; give no INPUT")
        if not (a.opt_out or a.deletions):
            raise WarbleError("--apply-deletions needs --opt-out FILE and/or --deletions FILE")
        manifest = apply_deletions(a.out, ComplianceLists.load(a.opt_out or [], a.deletions or []), log=log)
    else:
        if not a.inputs:
            raise WarbleError("give at least one INPUT file or directory")
        manifest = run_ingest(a.inputs, a.out, ingest_config_from_args(a), overwrite=a.overwrite,
                              progress=not a.no_progress, log=log)
    if a.json:
        print(json.dumps(manifest, indent=2))
    else:
        from warble.data.summary import manifest_summary

        print(manifest_summary(manifest, Path(a.out)))
    return 0


# ---------------------------------------------------------------------------------------------------- quickstart
def _quickstart_parser(sub) -> None:
    p = sub.add_parser("quickstart", help="run the whole pipeline on the embedded default corpus, end in a report",
                       description="Simulate a platform, ingest it, and run every stage built so far; writes "
                                   "OUT/report.md with what was done and the numbers measured.")
    p.add_argument("--out", default="runs/quickstart", help="run directory (default: runs/quickstart)")
    p.add_argument("--posts", type=int, default=20_000, help="simulated posts (default 20000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="parallel processes (default: one per core)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_quickstart)


def _cmd_quickstart(a) -> int:
    from warble.quickstart import run_quickstart

    report = run_quickstart(a.out, posts=a.posts, seed=a.seed, workers=a.workers, progress=not a.no_progress)
    print(f"\nreport: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warble", description="Warble: a platform's own language model, trained on "
                                "its posts, for search and ads. Stages: synth -> ingest -> (tokenizer, train, "
                                "serve, search, ads, eval).")
    p.add_argument("--version", action="version", version=f"warble {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _synth_parser(sub)
    _ingest_parser(sub)
    _quickstart_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WarbleError as e:
        print(f"warble {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"warble {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
