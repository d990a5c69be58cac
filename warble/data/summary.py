"""A short human-readable summary of a corpus manifest (the CLI's closing lines and the quickstart report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def manifest_markdown(m: dict[str, Any]) -> str:
    """Markdown tables: the accounting, removals by reason, languages, lengths."""
    read = m["read"]
    lines = [
        "| read | kept | filtered | quarantined | duplicate rate | posts/s |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {read:,} | {m['kept']:,} ({_pct(m['kept'], read)}) | {sum(m['filtered'].values()):,} | "
        f"{m['quarantined']:,} | {100 * m['duplicate_rate']:.1f}% | {m.get('posts_per_s') or 0:,.0f} |",
        "",
        f"Splits: train {m['splits']['train']:,}, validation {m['splits']['validation']:,}. "
        f"Time range: {m['time_range']['min']} .. {m['time_range']['max']}.",
        "",
        "| removed because | posts |",
        "|---|---:|",
    ]
    lines += [f"| {reason} | {n:,} |" for reason, n in sorted(m["filtered"].items(), key=lambda kv: -kv[1])]
    lines += [f"| quarantine: {reason} | {n:,} |" for reason, n in m["quarantined_by_reason"].items()]
    if m.get("modified"):
        lines += ["", "| changed | count |", "|---|---:|"]
        lines += [f"| {k} | {v:,} |" for k, v in sorted(m["modified"].items(), key=lambda kv: -kv[1])]
    langs = sorted(m["languages"].items(), key=lambda kv: -kv[1])[:12]
    lines += ["", "| language | posts |", "|---|---:|"] + [f"| {k} | {v:,} |" for k, v in langs]
    bins, counts = m["length_histogram"]["bins"], m["length_histogram"]["counts"]
    lines += ["", "| length (chars) | posts |", "|---|---:|"]
    lines += [f"| {lo}-{hi - 1} | {c:,} |" for lo, hi, c in zip(bins, bins[1:], counts) if c]
    return "\n".join(lines)


def manifest_summary(m: dict[str, Any], out: Path) -> str:
    f = m["filtered"]
    top = ", ".join(f"{k} {v:,}" for k, v in sorted(f.items(), key=lambda kv: -kv[1])[:6])
    return (f"{out}: read {m['read']:,} -> kept {m['kept']:,} "
            f"(train {m['splits']['train']:,} / validation {m['splits']['validation']:,}), "
            f"quarantined {m['quarantined']:,}, filtered {sum(f.values()):,}"
            + (f" [{top}]" if top else "")
            + f"; {len(m['languages'])} languages; {m.get('posts_per_s') or 0:,.0f} posts/s\n"
            f"manifest: {out / 'manifest.json'}")
