"""Which files to read (`expand_inputs`) and in which format (`detect_format`)."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

from warble.data.readers import text_file, twitter_v1, twitter_v2, warble_jsonl, x_archive
from warble.data.readers.base import Quarantined, ReadTask
from warble.data.readers.io import DECOMPRESSION_ERRORS, logical_name
from warble.data.readers.jsonrecords import json_records, layout
from warble.errors import InputError

BY_SUFFIX = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "text"}
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
SNIFF_RECORDS = 100  # records tried for one that tells the format, past a few broken lines at the top


def _suffix(path: Path) -> str:
    return Path(logical_name(path)).suffix.lower()


def _skipped(name: str) -> bool:
    return name.startswith((".", "_"))  # hidden files, and _SUCCESS / _tmp-style markers of other tools


def _is_input(path: Path) -> bool:
    """Whether a file met inside a directory is an input: a readable kind, and not a sidecar of another file."""
    suffix = _suffix(path)
    if suffix == ".js":
        return x_archive.is_tweets_file(path)
    return (suffix in BY_SUFFIX or suffix in JSON_SUFFIXES) and not text_file.is_sidecar(path)


def _walk(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not _skipped(d)]
        found.extend(Path(folder, name) for name in files if not _skipped(name) and _is_input(Path(folder, name)))
    return sorted(found)


def expand_inputs(paths: list[str]) -> list[Path]:
    """The input files named by `paths`: files as given, directories searched recursively (sorted).

    Inside directories, hidden names and names starting with '_' are skipped, as are files of no readable kind
    (READMEs, licences, an archive's likes.js) and sidecars read along with another file (labels, mapping.txt).
    Paths are absolute but not resolved, so a symlink keeps its own name in origins.
    """
    if not paths:
        raise InputError("no input paths given")
    found: list[Path] = []
    for given in paths:
        path = Path(os.path.abspath(given))
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(_walk(path))
        else:
            raise InputError(f"input {given} does not exist")
    if not found:
        raise InputError(f"no input files found in: {', '.join(map(str, paths))}")
    return list(dict.fromkeys(found))  # a file named twice, or also inside a named folder, is read once


def classify(record: dict) -> str | None:
    """The JSON format one record belongs to, from its top-level keys."""
    keys = record.keys()
    if twitter_v2.RESPONSE_KEYS & keys or twitter_v2.TWEET_KEYS & keys:
        return "twitter_v2"
    if twitter_v1.TWEET_KEYS & keys:
        return "twitter_v1"
    if keys >= warble_jsonl.POST_KEYS:
        return "warble"
    return None


def _sniff_json(path: Path) -> str:
    bad = 0
    with contextlib.closing(json_records(ReadTask(str(path), "sniff"))) as records:
        for record in itertools.islice(records, SNIFF_RECORDS):
            if type(record) is Quarantined:
                bad += 1
                continue
            fmt = classify(record[0])
            if fmt is None:
                keys = ", ".join(list(record[0])[:12])
                raise InputError(f"{path}: unknown JSON format (first record's keys: {keys})")
            return fmt
    if bad:
        raise InputError(f"{path}: no valid JSON object in its first {bad} records")
    # No record at all ('[]', an empty file): it reads as nothing in any format; take its layout's usual one.
    return "twitter_v1" if layout(path) == "array" else "warble"


def detect_format(path: str | Path) -> str:
    """One of FORMATS, by the file name and, for JSON, by the first record (after decompression)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input {path} does not exist or is not a file")
    suffix = _suffix(path)
    if suffix in BY_SUFFIX:
        return BY_SUFFIX[suffix]
    try:
        if suffix == ".js":
            if x_archive.is_tweets_file(path):
                return "x_archive"
            raise InputError(f"{path}: not an X archive tweets file (only tweets.js and tweet.js hold posts)")
        return _sniff_json(path)
    except DECOMPRESSION_ERRORS as exc:
        raise InputError(f"{path}: cannot decompress ({exc})") from None
