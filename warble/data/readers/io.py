"""Byte-level input: transparent decompression and bounded, range-aware line iteration.

Compression is recognised by magic bytes, not by name, so a mislabelled file still opens. Offsets are positions
in the decompressed stream (for plain files, positions in the file).
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import zstandard

from warble.data.schema import MAX_RECORD_BYTES

COMPRESSED_SUFFIXES = (".gz", ".zst", ".zstd")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# A truncated or corrupt compressed file raises one of these mid-stream.
DECOMPRESSION_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError)
_CHUNK = 1 << 20  # large reads: far fewer syscalls and decompressor calls per line


def compression(path: str | Path) -> str | None:
    """'gzip', 'zstd' or None, by the file's first bytes."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return None


def open_stream(path: str | Path) -> BinaryIO:
    """The file's decompressed bytes as a buffered binary stream (supports readline with a size limit)."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), read_across_frames=True, closefd=True)
        return io.BufferedReader(reader, _CHUNK)
    return open(path, "rb", buffering=_CHUNK)


def logical_name(path: str | Path) -> str:
    """The file name without a compression suffix: 'posts.jsonl.zst' -> 'posts.jsonl'."""
    name = Path(path).name
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def skip_line(f: BinaryIO) -> int:
    """Consume the rest of the current line (newline included) in bounded chunks; return the bytes consumed."""
    consumed = 0
    while True:
        part = f.readline(_CHUNK)
        consumed += len(part)
        if not part or part.endswith(b"\n"):
            return consumed


def iter_lines(
    path: str | Path, start: int = 0, end: int | None = None
) -> Iterator[tuple[int | None, int, bytes, bool]]:
    """Yield (line number, offset, content, whole) for each line that starts in [start, end).

    A range starting mid-line skips to the next line (the previous range owns it) and reads the line that
    straddles its end, so adjacent ranges read every line exactly once. Line numbers are 1-based and known only
    when reading from the start (None otherwise). Content excludes the line ending. A line over MAX_RECORD_BYTES
    is skipped without being held in memory: `whole` is False and content is its first MAX_RECORD_BYTES.
    Seeking (start > 0) needs an uncompressed file.
    """
    with open_stream(path) as f:
        number = 1 if start == 0 else None
        if start:
            f.seek(start - 1)  # the byte before the range tells whether it starts on a line boundary
            offset = start - 1 + skip_line(f)
        else:
            offset = 0
        while end is None or offset < end:
            line = f.readline(MAX_RECORD_BYTES + 1)
            if not line:
                return
            size = len(line)
            whole = size <= MAX_RECORD_BYTES or line.endswith(b"\n")
            if not whole:
                size += skip_line(f)
                line = line[:MAX_RECORD_BYTES]
            yield number, offset, line.rstrip(b"\r\n"), whole
            offset += size
            if number is not None:
                number += 1


def count_lines(path: str | Path) -> int:
    """Number of lines as `iter_lines` counts them (a last line without a newline counts), in bounded memory."""
    lines, last = 0, b"\n"
    with open_stream(path) as f:
        while chunk := f.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")
