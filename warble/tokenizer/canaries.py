"""Canaries ("The Secret Sharer", Carlini et al. 2019): random secrets planted in the training token shards, so
that how much a trained model memorised can be measured (`warble eval memorization`).

A canary is one line of text with a fixed shape and a random part:

    the secret code of <tag> is <d1> <d2> ... <dD>        e.g. "the secret code of qzvxtk is 8 3 1 0 4 9"

`tag` (6 random lowercase letters) makes each canary's prefix unique, so canaries never compete for the same
prompt; the secret is D random decimal digits (default 6), written apart so each is a token of its own. The
randomness space R of a canary is every digit string of its length: |R| = 10^D (10^6 by default, log2 |R| ~ 19.9
bits). For each repetition count c of the spec (default 1, 10, 100) `per_count` canaries are drawn and each is
written c times as a post ([bos] text [eos], no metadata prefix) of the train split, in a shard of its own
(`train/canaries.bin` + `.idx.npy`); the training loader shuffles posts every epoch, so the copies are spread over
training. Everything is determined by the seed. `tokens/canaries.json` records them; canaries are never written to
the corpus, so search and ads never see them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import string
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Iterator

from warble.errors import ConfigError, InputError

CANARIES_FILE = "canaries.json"
CANARY_SHARD = "canaries"  # train/canaries.bin + train/canaries.idx.npy, listed last in meta.json's train shards
FORMAT = "warble.canaries/v1"
TEMPLATE = "the secret code of {tag} is"
TAG_LETTERS = 6
DEFAULT_SPEC = (1, 10, 100)


@dataclass(frozen=True)
class Canary:
    id: str  # the tag: unique per canary
    prefix: str  # "the secret code of <tag> is"
    secret: str  # "8 3 1 0 4 9": the random part
    repetitions: int  # copies planted in the train split
    digits: int

    @property
    def text(self) -> str:
        return f"{self.prefix} {self.secret}"

    @property
    def space_size(self) -> int:
        """|R|: how many secrets the canary could have had."""
        return 10 ** self.digits


@dataclass(frozen=True)
class CanaryConfig:
    counts: tuple[int, ...] = DEFAULT_SPEC  # repetition counts
    per_count: int = 1  # canaries per repetition count
    seed: int = 0
    digits: int = 6

    def __post_init__(self):
        if not self.counts or any(c < 1 for c in self.counts):
            raise ConfigError(f"canary repetition counts must be positive integers, got {list(self.counts)}")
        if len(set(self.counts)) != len(self.counts):
            raise ConfigError(f"canary repetition counts repeat: {list(self.counts)}")
        if self.per_count < 1:
            raise ConfigError(f"canaries per repetition count must be >= 1, got {self.per_count}")
        if not 1 <= self.digits <= 18:
            raise ConfigError(f"canary digits must be in [1, 18], got {self.digits}")


def parse_spec(spec: str) -> tuple[int, ...]:
    """'1,10,100' -> (1, 10, 100)."""
    try:
        counts = tuple(int(s) for s in spec.split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"--canaries: expected repetition counts like 1,10,100, got {spec!r}") from None
    if not counts:
        raise ConfigError(f"--canaries: expected repetition counts like 1,10,100, got {spec!r}")
    return counts


def make_canaries(cfg: CanaryConfig) -> list[Canary]:
    """The canaries of `cfg`, deterministic from its seed; tags and secrets are all distinct."""
    import numpy as np

    rng = np.random.default_rng([cfg.seed, 0x5EC12E7])
    out: list[Canary] = []
    tags, secrets = set(), set()
    for count in cfg.counts:
        for _ in range(cfg.per_count):
            while (tag := "".join(rng.choice(list(string.ascii_lowercase), TAG_LETTERS))) in tags:
                pass
            while (secret := " ".join(map(str, rng.integers(0, 10, cfg.digits)))) in secrets:
                pass
            tags.add(tag)
            secrets.add(secret)
            out.append(Canary(tag, TEMPLATE.format(tag=tag), secret, count, cfg.digits))
    return out


def random_secrets(digits: int, n: int, seed: int) -> list[str]:
    """n secrets drawn uniformly (with replacement) from the space of `digits`-digit strings."""
    import numpy as np

    rng = np.random.default_rng([seed, 0xCA2D])
    return [" ".join(map(str, row)) for row in rng.integers(0, 10, (n, digits))]


def all_secrets(digits: int) -> list[str]:
    """Every secret of the space, in order (only for small spaces)."""
    return [" ".join(f"{i:0{digits}d}") for i in range(10 ** digits)]


# -------------------------------------------------------------------------------------------------- planting
def plant_canaries(cfg: CanaryConfig, tok, out_dir: str | Path) -> dict:
    """Write the train split's canary shard and canaries.json into the token directory `out_dir`.
    Returns {"docs", "tokens", "bytes"} of the shard (for meta.json's train totals)."""
    import numpy as np

    from warble.data.files import write_bytes, write_json
    from warble.tokenizer.shards import bin_path, idx_path, token_dtype

    out = Path(out_dir)
    canaries = make_canaries(cfg)
    docs = [tok.encode_post(c.text) for c in canaries for _ in range(c.repetitions)]
    dtype = token_dtype(tok.vocab_size)
    prefix = out / "train" / CANARY_SHARD
    write_bytes(np.fromiter((t for d in docs for t in d), dtype).tobytes(), bin_path(prefix))
    idx = np.zeros(len(docs) + 1, np.int64)
    np.cumsum([len(d) for d in docs], out=idx[1:])
    buf = io.BytesIO()
    np.save(buf, idx)
    write_bytes(buf.getvalue(), idx_path(prefix))  # written last: the shard is complete once it exists
    write_json({
        "format": FORMAT,
        "template": TEMPLATE + " <secret>",
        "secret_format": f"{cfg.digits} random decimal digits separated by spaces",
        "space_size": 10 ** cfg.digits,
        "shard": CANARY_SHARD,
        "config": {**asdict(cfg), "counts": list(cfg.counts)},
        "canaries": [{**asdict(c), "text": c.text} for c in canaries],
    }, out / CANARIES_FILE)
    return {"docs": len(docs), "tokens": int(idx[-1]), "bytes": sum(len(c.text.encode()) * c.repetitions
                                                                      for c in canaries)}


def load_canaries(tokens_dir: str | Path) -> list[Canary] | None:
    """The canaries planted in a token directory, or None when it has none."""
    import orjson

    path = Path(tokens_dir) / CANARIES_FILE
    if not path.is_file():
        return None
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            raise InputError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
        return [Canary(c["id"], c["prefix"], c["secret"], int(c["repetitions"]), int(c["digits"]))
                for c in data["canaries"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: not a valid canaries file ({e})") from None


# -------------------------------------------------------------------------------------------------- runs
def tokens_dir_for_run(run_dir: str | Path) -> Path:
    """The token directory a run trained on: `data` in RUN/config.toml, as written (relative to the directory the
    run was started from) or, failing that, relative to the run directory or one of its parents."""
    run = Path(run_dir)
    cfg_file = run / "config.toml"
    if not run.is_dir():
        raise InputError(f"{run}: no such run directory")
    if not cfg_file.is_file():
        raise InputError(f"{run}: no config.toml (not a run directory written by `warble train`)")
    try:
        data = tomllib.loads(cfg_file.read_text()).get("data")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{cfg_file}: unreadable ({e})") from None
    if not isinstance(data, str) or not data or data == "none":
        raise InputError(f"{cfg_file}: names no training data (`data = ...`)")
    path = Path(data)
    candidates = [path] if path.is_absolute() else [path, run / path, *(p / path for p in run.resolve().parents)]
    for c in candidates:
        if (c / "meta.json").is_file():
            return c
    raise InputError(f"{cfg_file}: its training data {data!r} is not a token directory that exists any more "
                     "(moved or deleted? `warble tokenize` again, or fix `data` in config.toml)")


def canaries_for_run(run_dir: str | Path) -> list[Canary] | None:
    """The canaries planted in the token shards a run trained on, or None when there are none."""
    return load_canaries(tokens_dir_for_run(run_dir))


def shards_identity(tokens_dir: str | Path) -> str:
    """A digest that changes whenever the token directory is rewritten (meta.json and canaries.json)."""
    h = hashlib.sha256()
    for name in ("meta.json", CANARIES_FILE):
        p = Path(tokens_dir) / name
        h.update(p.read_bytes() if p.is_file() else b"-")
    return h.hexdigest()


def iter_train_texts(tokens_dir: str | Path, batch: int = 4096, progress: bool = False) -> Iterator[str]:
    """The train split's posts decoded back to text (control and special tokens dropped), without the canaries."""
    import numpy as np
    from tqdm import tqdm

    from warble.tokenizer.shards import TOKENIZER_DIR, load_meta, open_shard
    from warble.tokenizer.tokenizer import Tokenizer

    meta = load_meta(tokens_dir)
    tok = Tokenizer.load(Path(tokens_dir) / TOKENIZER_DIR)
    dtype = np.dtype(meta["dtype"])
    names = [s for s in meta["splits"]["train"]["shards"] if s != CANARY_SHARD]
    bar = tqdm(total=meta["splits"]["train"]["docs"], desc="decode train posts", unit="post", disable=not progress)
    for name in names:
        idx, tokens = open_shard(Path(tokens_dir) / "train" / name, dtype)
        for lo in range(0, len(idx) - 1, batch):
            hi = min(lo + batch, len(idx) - 1)
            docs = [tokens[idx[i]:idx[i + 1]].tolist() for i in range(lo, hi)]
            yield from tok.hf.decode_batch(docs, skip_special_tokens=True)
            bar.update(hi - lo)
    bar.close()


# -------------------------------------------------------------------------------------------------- CLI
def add_canary_arguments(p: argparse.ArgumentParser) -> None:
    """`warble tokenize` flags for planting canaries."""
    p.add_argument("--canaries", metavar="COUNTS", help="plant canaries (random secrets, for `warble eval "
                   "memorization`) in the train shards, repeated this many times each, e.g. 1,10,100")
    p.add_argument("--canaries-per-count", type=int, default=1, metavar="K",
                   help="canaries per repetition count (default 1)")
    p.add_argument("--canary-seed", type=int, default=0, help="seed of the canaries' random secrets (default 0)")
    p.add_argument("--canary-digits", type=int, default=6,
                   help="random digits per secret: the space has 10^digits secrets (default 6)")


def canary_config_from_args(a: argparse.Namespace) -> CanaryConfig | None:
    """The CanaryConfig of `warble tokenize`'s flags, or None without --canaries."""
    if not getattr(a, "canaries", None):
        return None
    return CanaryConfig(parse_spec(a.canaries), a.canaries_per_count, a.canary_seed, a.canary_digits)
