"""Reading the corpus `warble ingest` wrote (OUT/corpus/{train,validation}/*.parquet), with errors a user can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from warble.errors import InputError

SPLITS = ("train", "validation")


def corpus_files(corpus_dir: str | Path, split: str) -> list[Path]:
    """The split's Parquet files in order (possibly none)."""
    root = Path(corpus_dir)
    if not (root / "corpus").is_dir():
        raise InputError(f"{root}: not a corpus directory (no corpus/ inside; `warble ingest` makes one)")
    return sorted((root / "corpus" / split).glob("*.parquet"))


def train_files(corpus_dir: str | Path) -> list[Path]:
    files = corpus_files(corpus_dir, "train")
    if not files:
        raise InputError(f"{corpus_dir}: corpus/train holds no Parquet files")
    return files


def num_rows(path: Path) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None


def iter_batches(path: Path, columns: list[str], batch_size: int = 8192) -> Iterator[pa.RecordBatch]:
    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{path}: not a readable corpus file ({e})") from None
