"""Plain text, one post a line (e.g. TweetEval's `train_text.txt`), with labels from sidecar files when present.

Such a file names no id and no author: a post's id is "t<8 hex>-<line number>", the hex a hash of the folder
and file name (two folders' `train_text.txt` never collide; moving the tree keeps the ids), its author "unknown".
For `<name>_text.txt`, a sibling `<name>_labels.txt` holds one label a line, mapped through `mapping.txt`
(`id<TAB>name`, in the folder or its parent) when there is one; the label key is "tweeteval.<folders below
tweeteval>" inside a tree named tweeteval (e.g. "tweeteval.emoji"), else "label.<folder>". Ids are line
numbers, so a text file is always one task. An empty line is quarantined (empty_text), not dropped silently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from warble.data.readers.base import ItemStream, Quarantined, ReadTask
from warble.data.readers.io import COMPRESSED_SUFFIXES, count_lines, iter_lines, logical_name
from warble.data.readers.records import lines, origin, quarantine
from warble.errors import InputError

MAPPING_NAME = "mapping.txt"


def _sibling(path: Path, old: str, new: str) -> Path | None:
    """The existing file named like `path` with its stem's `old` ending made `new`, compressed or not
    ('a_text.txt.gz' -> 'a_labels.txt', 'a_labels.txt.gz', ...)."""
    name = logical_name(path)
    suffix = Path(name).suffix
    stem = name[: len(name) - len(suffix)]
    if not stem.endswith(old):
        return None
    base = stem[: -len(old)] + new + suffix
    return next((c for c in (path.with_name(base + s) for s in ("", *COMPRESSED_SUFFIXES)) if c.exists()), None)


def is_sidecar(path: str | Path) -> bool:
    """True for mapping.txt and for a labels file beside its text file: they are read with the text."""
    path = Path(path)
    return path.name == MAPPING_NAME or _sibling(path, "_labels", "_text") is not None


def id_prefix(path: str | Path) -> str:
    path = Path(path).absolute()
    key = f"{path.parent.name}/{logical_name(path)}"  # without the compression suffix: recompressing keeps ids
    return "t" + hashlib.blake2s(key.encode(), digest_size=4).hexdigest()


def label_key(path: str | Path) -> str:
    folders = Path(path).absolute().parent.parts
    if "tweeteval" in folders:
        below = folders[len(folders) - folders[::-1].index("tweeteval") :]
        return ".".join(("tweeteval", *below))
    return f"label.{folders[-1]}"


def _mapping(folder: Path) -> dict[str, str]:
    for candidate in (folder / MAPPING_NAME, folder.parent / MAPPING_NAME):
        if candidate.exists():
            pairs = (line.split("\t") for line in candidate.read_text(encoding="utf-8").splitlines())
            return {cells[0].strip(): cells[1].strip() for cells in pairs if len(cells) > 1}
    return {}


def load_labels(path: str | Path) -> list[str] | None:
    """One mapped label per line of the text file, or None without a labels file; InputError if misaligned."""
    labels_file = _sibling(Path(path), "_text", "_labels")
    if labels_file is None:
        return None
    try:  # iter_lines splits lines exactly as the text file is read, so line N gets label N
        raw = [content.decode("utf-8").strip() for _, _, content, _ in iter_lines(labels_file)]
    except UnicodeDecodeError as exc:
        raise InputError(f"{labels_file}: not UTF-8 ({exc})") from None
    texts = count_lines(path)
    if len(raw) != texts:  # misaligned labels would silently label the wrong posts
        raise InputError(f"{labels_file} has {len(raw)} lines but {Path(path).name} has {texts}")
    mapping = _mapping(labels_file.parent)
    return [mapping.get(label, label) for label in raw]


def read(task: ReadTask) -> ItemStream:
    prefix, source = id_prefix(task.path), origin(task)
    labels = load_labels(task.path)
    key = label_key(task.path)
    for item in lines(task):
        if type(item) is Quarantined:
            yield item
            continue
        number, offset, content = item
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield quarantine(task, "bad_utf8", str(exc), number, offset, content)
            continue
        if not text.strip():
            yield quarantine(task, "empty_text", "", number, offset, content)
            continue
        post = {"id": f"{prefix}-{number}", "author_id": "unknown", "text": text, "origin": source}
        if labels is not None:
            post["labels"] = {key: labels[number - 1]}
        post["_line"], post["_offset"] = number, offset
        yield post
