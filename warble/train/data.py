"""Packed batches from token shards (docs/CONTRACTS.md): posts packed whole into rows of seq_len tokens.

Posts are cut into segments of at most seq_len tokens (only posts longer than a row are cut) and the segments are
packed greedily, in order, into rows: a segment that does not fit in what is left of a row closes it with padding
and starts the next. Each segment is its own document for attention (doc_ids) and positions; no target crosses
a segment boundary. Epochs follow each other without a break (a row may hold the end of one and the start of the
next). The row stream depends only on the data, seq_len and seed, so any world size sees the same global batches,
and a resumed loader continues it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from warble.errors import InputError
from warble.tokenizer.shards import TokenShards

IGNORE = -100  # target of positions without a loss (torch cross_entropy's ignore_index)

Row = list[tuple[int, int]]  # segments as (start in TokenShards' virtual concatenation, length)


@dataclass
class Batch:
    tokens: torch.Tensor  # [B, T] int64
    targets: torch.Tensor  # [B, T] int64, IGNORE where there is no next token in the segment
    doc_ids: torch.Tensor  # [B, T] int32, segment number within the row (padding is one more)
    positions: torch.Tensor  # [B, T] int64, restarting at 0 in each segment

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(getattr(self, f.name).to(device) for f in fields(self)))


class _Packer:
    """The row stream over epochs of posts in `order(epoch)`; its state (epoch, cursor, offset) is always at a row
    boundary: the next segment is post order[cursor] from token `offset` on."""

    def __init__(self, shards: TokenShards, seq_len: int, order: Callable[[int], np.ndarray]):
        self.shards, self.seq_len, self._order_of = shards, seq_len, order
        self.epoch = self.cursor = self.offset = 0
        self._order = order(0)

    def seek(self, epoch: int, cursor: int, offset: int) -> None:
        if epoch != self.epoch:
            self._order = self._order_of(epoch)
        self.epoch, self.cursor, self.offset = epoch, cursor, offset

    def rows(self, n: int, one_epoch: bool = False) -> list[Row]:
        """The next n rows (fewer if `one_epoch` and this epoch's posts run out)."""
        bounds, seq_len, n_docs = self.shards.bounds, self.seq_len, len(self.shards)
        out = []
        while len(out) < n:
            row, free = [], seq_len
            while free:
                if self.cursor == n_docs:
                    if one_epoch:
                        break
                    self.seek(self.epoch + 1, 0, 0)
                doc = self._order[self.cursor]
                start = int(bounds[doc]) + self.offset
                left = int(bounds[doc + 1]) - start
                length = min(left, seq_len)
                if length > free:
                    break
                row.append((start, length))
                free -= length
                if length == left:
                    self.cursor, self.offset = self.cursor + 1, 0
                else:
                    self.offset += length
            if not row:
                break
            out.append(row)
        return out


def collate(shards: TokenShards, rows: list[Row], seq_len: int, pad_id: int) -> Batch:
    """Rows of segments -> a Batch. Padding is one more segment per row, so the segments tile the batch and
    positions, doc ids and segment ends all come from segment lengths."""
    tokens = np.full(len(rows) * seq_len, pad_id, np.int64)
    lengths, doc_ids, is_pad = [], [], []
    at = 0
    for row in rows:
        for start, length in row:
            tokens[at:at + length] = shards.span(start, length)
            lengths.append(length)
            at += length
        doc_ids += range(len(row))
        is_pad += [False] * len(row)
        if pad := seq_len - sum(length for _, length in row):
            lengths.append(pad)
            doc_ids.append(len(row))
            is_pad.append(True)
            at += pad
    lengths = np.array(lengths)
    starts = np.cumsum(lengths) - lengths
    targets = np.empty_like(tokens)
    targets[:-1] = tokens[1:]
    targets[starts + lengths - 1] = IGNORE  # last token of every segment: its next token is another segment's
    targets[np.repeat(np.array(is_pad), lengths)] = IGNORE
    positions = np.arange(len(tokens)) - np.repeat(starts, lengths)
    shape = (len(rows), seq_len)
    return Batch(
        tokens=torch.from_numpy(tokens).view(shape),
        targets=torch.from_numpy(targets).view(shape),
        doc_ids=torch.from_numpy(np.repeat(np.array(doc_ids, np.int32), lengths)).view(shape),
        positions=torch.from_numpy(positions).view(shape),
    )


class PackedLoader:
    """Infinite iterator of this rank's share of each global batch. Post order is reshuffled every epoch."""

    def __init__(self, tokens_dir: str | Path, split: str, global_batch: int, seq_len: int, rank: int = 0,
                 world_size: int = 1, seed: int = 0):
        if global_batch % world_size:
            raise ValueError(f"global_batch {global_batch} is not divisible by world_size {world_size}: "
                             "every rank must get the same number of rows")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.shards = TokenShards(tokens_dir, split)
        if len(self.shards) == 0:
            raise InputError(f"{tokens_dir}: split {split!r} has no posts to train on")
        self.global_batch, self.seq_len, self.seed = global_batch, seq_len, seed
        self.local_batch = global_batch // world_size
        self.rank = rank
        self.pad_id = self.shards.meta["pad_id"]
        self._packer = _Packer(self.shards, seq_len, self._shuffled)

    def _shuffled(self, epoch: int) -> np.ndarray:
        n = len(self.shards)
        order = np.arange(n, dtype=np.uint32 if n < 1 << 32 else np.int64)  # 4 bytes a post, not 8
        np.random.default_rng([self.seed, epoch]).shuffle(order)
        return order

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        rows = self._packer.rows(self.global_batch)  # every rank packs all rows: the stream must not depend on w
        mine = rows[self.rank * self.local_batch:(self.rank + 1) * self.local_batch]
        return collate(self.shards, mine, self.seq_len, self.pad_id)

    @property
    def epoch(self) -> int:
        return self._packer.epoch

    def state_dict(self) -> dict:
        p = self._packer
        return {"epoch": p.epoch, "cursor": p.cursor, "offset": p.offset, "seed": self.seed,
                "seq_len": self.seq_len, "docs": len(self.shards)}

    def load_state_dict(self, state: dict) -> None:
        mine = self.state_dict()
        for key in ("seed", "seq_len", "docs"):
            if state[key] != mine[key]:
                raise ValueError(f"loader state has {key}={state[key]}, this loader {mine[key]}: cannot resume")
        self._packer.seek(state["epoch"], state["cursor"], state["offset"])


def eval_batches(tokens_dir: str | Path, split: str, batch_size: int, seq_len: int) -> Iterator[Batch]:
    """Every post of the split once, in order, packed like training (the last batch may have fewer rows)."""
    shards = TokenShards(tokens_dir, split)
    packer = _Packer(shards, seq_len, lambda epoch: np.arange(len(shards)))
    while rows := packer.rows(batch_size, one_epoch=True):
        yield collate(shards, rows, seq_len, shards.meta["pad_id"])
