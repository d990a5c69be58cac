"""The ground truth a run leaves in out_dir/_truth/: what every post really is, and who the users are.

posts.parquet: one row per post (id, author, true language and topic, kind, what it copies, planted personal
data, the engagement features and the expected counts from engagement.py). users.jsonl: the world's users.
malformed.jsonl: where each malformed line is and how it is broken. summary.json: the counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .engagement import ACTIONS, FEATURES
from .post import Post
from .world import World

TRUTH_DIR = "_truth"
_STR = pa.string()
POSTS_TRUTH_SCHEMA = pa.schema(
    [("id", _STR), ("author_id", _STR), ("created_at", pa.timestamp("ms", tz="UTC")), ("lang", _STR),
     ("declared_lang", _STR), ("topic", _STR), ("kind", _STR), ("variant", _STR), ("duplicate_of", _STR),
     ("pii", pa.list_(_STR)), ("pii_values", pa.list_(_STR)), ("file", _STR),
     ("followers", pa.int64()), ("topic_popularity", pa.float64()), ("media", pa.bool_()), ("link", pa.bool_()),
     ("question", pa.bool_()), ("emoji", pa.int32()), ("hashtags", pa.int32()), ("chars", pa.int32()),
     ("local_hour", pa.int8()), ("age_hours", pa.float64()), ("reply", pa.bool_()),
     ("exp_impressions", pa.float64())]
    + [(f"exp_{a}", pa.float64()) for a in ACTIONS] + [(f"p_{a}", pa.float64()) for a in ACTIONS]
)


def posts_batch(posts: list[Post], world: World, file: str, features: dict[str, np.ndarray],
                expected: dict[str, np.ndarray]) -> pa.RecordBatch:
    def col(name):
        return [getattr(p, name) or None for p in posts]

    columns = {
        "id": col("id"), "author_id": [world.ids[p.author] for p in posts], "created_at": [p.ms for p in posts],
        "lang": col("lang"), "declared_lang": col("declared_lang"), "topic": col("topic"), "kind": col("kind"),
        "variant": col("variant"), "duplicate_of": col("duplicate_of"), "pii": [p.pii for p in posts],
        "pii_values": [p.pii_values for p in posts], "file": [file] * len(posts),
        **{name: features[name] for name in FEATURES},
        "exp_impressions": expected["impressions"],
        **{f"exp_{a}": expected[a] for a in ACTIONS}, **{f"p_{a}": expected["p_" + a] for a in ACTIONS},
    }
    arrays = [pa.array(columns[f.name], type=f.type) for f in POSTS_TRUTH_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=POSTS_TRUTH_SCHEMA)


def part_path(out_dir: Path, index: int) -> Path:
    return out_dir / TRUTH_DIR / f"posts.part-{index:05d}.parquet"


def write_part(path: Path, batches: list[pa.RecordBatch]) -> None:
    pq.write_table(pa.Table.from_batches(batches, schema=POSTS_TRUTH_SCHEMA), path, compression="zstd")


def merge_parts(out_dir: Path, shards: int) -> None:
    """Concatenate the shards' parts into posts.parquet (one part in memory at a time) and remove them."""
    with pq.ParquetWriter(out_dir / TRUTH_DIR / "posts.parquet", POSTS_TRUTH_SCHEMA, compression="zstd") as writer:
        for i in range(shards):
            path = part_path(out_dir, i)
            writer.write_table(pq.read_table(path))
            path.unlink()


def write_users(out_dir: Path, world: World) -> None:
    with open(out_dir / TRUTH_DIR / "users.jsonl", "wb") as f:
        for i in range(len(world)):
            f.write(orjson.dumps({
                "id": world.ids[i], "handle": world.handles[i], "name": world.names[i], "lang": world.lang[i],
                "interests": list(world.interests[i]), "followers": world.followers[i],
                "is_bot": world.is_bot[i], "source": world.source[i],
            }) + b"\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "wb") as f:
        for row in rows:
            f.write(orjson.dumps(row) + b"\n")


def write_summary(out_dir: Path, summary: dict) -> None:
    (out_dir / TRUTH_DIR / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
