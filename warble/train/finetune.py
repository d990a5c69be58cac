"""`warble finetune`: supervised fine-tuning of a pretrained run on prompt/completion pairs.

    finetune(FinetuneConfig(model="run/", data="pairs.jsonl", steps=50), "ft/")

Pairs are JSONL lines {"prompt": str, "completion": str}. Each becomes [bos] + prompt + completion + [eos], with a
loss on the completion tokens and the eos only (the model learns to answer, not to write prompts, and when to
stop). Prompt and completion are encoded separately, so their boundary is exact. A pair longer than seq_len loses
prompt tokens from the left (the end of a prompt, next to the answer, matters most); a pair whose completion does
not fit with [bos] and [eos] is skipped and counted. Pairs are packed whole into rows like pretraining's posts
(data.py's packer: per-pair doc ids and positions, so with the per-post attention mask a packed pair is computed
as if alone), reshuffled every epoch, and resume exactly.

Malformed lines (not JSON, not UTF-8, a missing or non-string prompt/completion) stop the run with an InputError
naming the line: a broken generator should be fixed, not silently thin out the training set. Blank lines are
skipped. Validation is --val-data, or else a deterministic `val_fraction` of the pairs chosen by a hash of the
prompt (pairs sharing a prompt stay on one side, so validation never sees a training prompt).

Training is the pretraining loop (loop.run): same layouts (one process, DDP, FSDP2), checkpoints, exact resume,
and the same run directory (model.safetensors, model.json, tokenizer/, config.toml, metrics.jsonl, checkpoints/,
loss.png), so later stages load a fine-tuned model as they load a pretrained one. With LoRA (lora.py) only the
adapters train, and model.safetensors holds the merged, plain model.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

from warble.errors import ConfigError, InputError
from warble.model import ModelConfig
from warble.tokenizer import Tokenizer
from warble.train import checkpoint as ckpt
from warble.train.config import TrainConfig
from warble.train.data import IGNORE, Batch, _Packer, collate  # pairs reuse pretraining's packing as is
from warble.train.loop import MODEL_CONFIG, MODEL_FILE, run, session
from warble.train.lora import LoRA, LoraConfig, plain_weights
from warble.train.optim import OptimConfig
from warble.train.schedule import ScheduleConfig

FULL_LR = 3e-4  # peak learning rates: ~10x below pretraining's for the whole model; adapters start at zero and
LORA_LR = 1e-3  # are few, so they take a larger one (`warble finetune --lora` defaults to it)


@dataclass
class FinetuneConfig(TrainConfig):
    """TrainConfig, with `data` the pairs file. The model's shape comes from `model`, so `preset` and `init_from`
    stay empty. Python callers using LoRA set `optim.lr` themselves (LORA_LR is the CLI's default)."""

    model: str = ""  # the pretrained run dir (model.safetensors or checkpoints/, model.json, tokenizer/)
    val_data: str | None = None  # validation pairs; none: a val_fraction of `data`, chosen by prompt hash
    val_fraction: float = 0.05
    lora: LoraConfig = field(default_factory=LoraConfig)
    preset: str = ""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=FULL_LR))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(warmup_steps=0.1))  # 10% of the run

    def validate(self, world: int, launched: bool = False) -> None:
        if not self.data:
            raise ConfigError("--data PAIRS.jsonl is required")
        if not self.model:
            raise ConfigError("--model RUN_DIR (the pretrained run) is required")
        if self.preset or self.init_from:
            raise ConfigError("finetune starts from --model: preset and init_from are for `warble train`")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        super().validate(world, launched)


# ---------------------------------------------------------------------------------------------------- pairs
def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, completion) of every line of a JSONL file; InputError naming the first malformed line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such pairs file")
    pairs = []
    with open(p, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:  # bad JSON or bad UTF-8
                raise InputError(f"{p}:{n}: not a JSON line ({e})") from None
            texts = (rec.get("prompt"), rec.get("completion")) if isinstance(rec, dict) else (None, None)
            if not all(isinstance(t, str) for t in texts):
                raise InputError(f'{p}:{n}: expected {{"prompt": "...", "completion": "..."}} with string values')
            try:
                for t in texts:
                    t.encode()
            except UnicodeEncodeError:  # JSON escapes can spell an unpaired surrogate
                raise InputError(f"{p}:{n}: a string holds an unpaired surrogate (not valid Unicode)") from None
            pairs.append(texts)
    if not pairs:
        raise InputError(f"{p}: holds no pairs")
    return pairs


def is_validation(prompt: str, fraction: float) -> bool:
    """Deterministic by the prompt alone, so pairs that share a prompt land on the same side."""
    h = int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=8).digest(), "big")
    return h < fraction * 2**64


class Pairs:
    """Encoded pairs fitted to seq_len, back to back: pair i is tokens[bounds[i]:bounds[i + 1]], whose first
    no_loss[i] positions predict prompt tokens and get no target. Duck-types TokenShards (len, bounds, span) for
    data.py's packer and collate."""

    def __init__(self, tok: Tokenizer, pairs: list[tuple[str, str]], seq_len: int):
        prompts = tok.encode_batch([p for p, _ in pairs])
        completions = tok.encode_batch([c for _, c in pairs])
        seqs, no_loss = [], []
        self.skipped = self.truncated = 0
        completion_bytes = 0
        for (_, text), p, c in zip(pairs, prompts, completions):
            room = seq_len - 2 - len(c)  # for prompt tokens, beside bos, the completion and eos
            if room < 0:
                self.skipped += 1
                continue
            if len(p) > room:
                self.truncated += 1
                p = p[len(p) - room:]
            seqs.append([tok.bos_id, *p, *c, tok.eos_id])
            no_loss.append(len(p))  # positions 0..len(p)-1 predict prompt tokens; position len(p) predicts c[0]
            completion_bytes += len(text.encode())
        self.bounds = np.cumsum([0, *map(len, seqs)], dtype=np.int64)
        self.tokens = np.fromiter(itertools.chain.from_iterable(seqs), np.int64, count=int(self.bounds[-1]))
        self.no_loss = np.array(no_loss, np.int64)
        self.pad_id = tok.pad_id
        targets = len(self.tokens) - len(seqs) - int(self.no_loss.sum())  # each completion and its eos
        self.bytes_per_target = completion_bytes / max(1, targets)
        # Identifies the data for resume: another pairs file, tokenizer or seq_len must not continue a run.
        self.digest = hashlib.blake2b(self.tokens.tobytes() + self.no_loss.tobytes(), digest_size=8).hexdigest()

    def __len__(self) -> int:
        return len(self.no_loss)

    def span(self, start: int, n: int) -> np.ndarray:
        return self.tokens[start:start + n]

    def collate(self, rows: list, seq_len: int) -> Batch:
        """data.collate, then no loss on each pair's prompt. Pairs fit in a row, so each segment is a whole pair."""
        batch = collate(self, rows, seq_len, self.pad_id)
        for r, row in enumerate(rows):
            at = 0
            for start, length in row:
                i = int(np.searchsorted(self.bounds, start, side="right")) - 1
                batch.targets[r, at:at + self.no_loss[i]] = IGNORE
                at += length
        return batch


class PairLoader:
    """data.PackedLoader's contract over pairs: the same packing, epoch shuffles, rank shares and exact resume."""

    def __init__(self, pairs: Pairs, global_batch: int, seq_len: int, rank: int = 0, world_size: int = 1,
                 seed: int = 0):
        if global_batch % world_size:
            raise ValueError(f"global_batch {global_batch} is not divisible by world_size {world_size}")
        self.pairs, self.seq_len, self.seed = pairs, seq_len, seed
        self.global_batch, self.local_batch, self.rank = global_batch, global_batch // world_size, rank
        self._packer = _Packer(pairs, seq_len, self._shuffled)

    def _shuffled(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.pairs))

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        rows = self._packer.rows(self.global_batch)  # all ranks pack every row: the stream does not depend on w
        return self.pairs.collate(rows[self.rank * self.local_batch:(self.rank + 1) * self.local_batch], self.seq_len)

    def state_dict(self) -> dict:
        p = self._packer  # offset is always 0: pairs are never cut
        return {"epoch": p.epoch, "cursor": p.cursor, "seed": self.seed, "seq_len": self.seq_len,
                "digest": self.pairs.digest}

    def load_state_dict(self, state: dict) -> None:
        mine = self.state_dict()
        for key in ("seed", "seq_len", "digest"):
            if state[key] != mine[key]:
                raise InputError(f"the checkpoint was trained on other pairs or settings ({key} {state[key]}, now "
                                 f"{mine[key]}): cannot resume exactly")
        self._packer.seek(state["epoch"], state["cursor"], 0)


class PairData:
    """Fine-tuning data for the training loop (loop.DataSource)."""

    def __init__(self, tok: Tokenizer, train_file: str | Path, seq_len: int, *, val_file: str | Path | None = None,
                 val_fraction: float = 0.05, tokenizer_dir: Path | None = None):
        train = read_pairs(train_file)
        if val_file:
            val = read_pairs(val_file)
        else:
            held_out = [is_validation(p, val_fraction) for p, _ in train]
            val = [x for x, v in zip(train, held_out) if v]
            train = [x for x, v in zip(train, held_out) if not v]
        self.seq_len, self.tokenizer_dir = seq_len, tokenizer_dir
        self.train, self.val = Pairs(tok, train, seq_len), Pairs(tok, val, seq_len)
        if not len(self.train):
            raise InputError(f"{train_file}: no training pairs left (held out for validation, or every completion "
                             f"is longer than seq_len {seq_len} - 2)")
        self.bytes_per_target = self.val.bytes_per_target if len(self.val) else None
        self.summary: dict[str, Any] = {
            "train_pairs": len(self.train), "validation_pairs": len(self.val),
            "skipped_too_long": self.train.skipped + self.val.skipped,
            "prompts_truncated": self.train.truncated + self.val.truncated}

    def loader(self, global_batch: int, rank: int, world: int, seed: int) -> PairLoader:
        return PairLoader(self.train, global_batch, self.seq_len, rank, world, seed)

    def eval_batches(self, batch_size: int) -> Iterator[Batch]:
        """Every validation pair once, in order, packed like training."""
        packer = _Packer(self.val, self.seq_len, lambda epoch: np.arange(len(self.val)))
        while rows := packer.rows(batch_size, one_epoch=True):
            yield self.val.collate(rows, self.seq_len)


# ---------------------------------------------------------------------------------------------------- run
def load_pretrained(model_dir: str | Path) -> tuple[ModelConfig, Callable[[], dict[str, torch.Tensor]]]:
    """A run dir's model config, and a function reading its weights as a plain full state dict: model.safetensors
    (the finished model) if there is one, else the latest checkpoint (a run stopped early; LoRA merged)."""
    root = Path(model_dir)
    if not root.is_dir():
        raise InputError(f"--model {root}: no such run directory")
    if (root / MODEL_FILE).is_file():
        if not (root / MODEL_CONFIG).is_file():
            raise InputError(f"--model {root}: {MODEL_FILE} without its {MODEL_CONFIG}")
        from safetensors.torch import load_file

        return ModelConfig(**json.loads((root / MODEL_CONFIG).read_text())), lambda: load_file(root / MODEL_FILE)
    start = ckpt.latest(root)
    if start is None:
        raise InputError(f"--model {root}: no {MODEL_FILE} and no complete checkpoint (give the run directory of a "
                         "`warble train` run)")
    return ModelConfig(**ckpt.trainer_state(start)["model_config"]), lambda: plain_weights(start)[1]


def finetune(cfg: FinetuneConfig, out_dir: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """Fine-tune the run `cfg.model` on the pairs `cfg.data` into the run dir `out_dir`; returns the summary."""
    with session(cfg) as d:
        mcfg, weights = load_pretrained(cfg.model)
        tok_dir = Path(cfg.model) / "tokenizer"
        tok = Tokenizer.load(tok_dir)
        if tok.vocab_size > mcfg.vocab_size:
            raise InputError(f"{tok_dir} has {tok.vocab_size} tokens, the model only {mcfg.vocab_size}")
        data = PairData(tok, cfg.data, cfg.seq_len, val_file=cfg.val_data, val_fraction=cfg.val_fraction,
                        tokenizer_dir=tok_dir)
        # Rotary tables are computed, not learned: a longer seq_len only needs a longer table.
        mcfg = replace(mcfg, doc_mask=cfg.doc_mask, max_seq_len=max(mcfg.max_seq_len, cfg.seq_len))
        lora = LoRA(cfg.lora) if cfg.lora.enabled else None

        def init(model: torch.nn.Module) -> None:
            sd = weights()
            if lora is not None:
                sd |= lora.initial_adapters(sd, cfg.seed)
            # Full tensors on every process, sharded (FSDP2) or copied (DDP) by set_model_state_dict: one path for
            # every layout, at the cost of one full copy of the weights in each process's CPU memory while loading.
            set_model_state_dict(model, sd, options=StateDictOptions(full_state_dict=True))

        title = f"finetune: {cfg.model}" + (f", LoRA rank {cfg.lora.rank} alpha {cfg.lora.alpha:g}" if lora else "")
        return run(cfg, out_dir, d, mcfg, data, resume=resume, init=init, transform=lora, title=title)


# ---------------------------------------------------------------------------------------------------- synthetic pairs
LANG_NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "fr": "French", "de": "German", "ja": "Japanese",
              "ko": "Korean"}


def pairs_from_corpus(corpus_dir: str | Path, out_jsonl: str | Path, n: int, truth_dir: str | Path | None = None
                      ) -> int:
    """Write up to n pairs "Write a post in <language>[ about <topic>]:\\n" -> an original post of the corpus's train
    split; returns how many. Topics come from a simulated dump's ground truth (`truth_dir`: the `warble synth`
    output), which knows what each post is about; without it the prompt names the language only."""
    import pyarrow.parquet as pq

    from warble.tokenizer.corpus import iter_batches, train_files

    topics = {}
    if truth_dir is not None:
        truth = pq.read_table(Path(truth_dir) / "_truth" / "posts.parquet", columns=["id", "topic"])
        topics = dict(zip(truth.column("id").to_pylist(), truth.column("topic").to_pylist()))
    columns = ["id", "text", "lang", "reply_to_id", "quote_of_id", "repost_of_id"]
    written = 0
    Path(out_jsonl).parent.mkdir(parents=True, exist_ok=True)
    with open(out_jsonl, "w", encoding="utf-8") as out:
        for path in train_files(corpus_dir):
            for batch in iter_batches(path, columns):
                for post in batch.to_pylist():
                    if written == n:
                        return written
                    if post["reply_to_id"] or post["quote_of_id"] or post["repost_of_id"]:
                        continue
                    topic = topics.get(post["id"])
                    prompt = (f"Write a post in {LANG_NAMES.get(post['lang'], post['lang'])}"
                              + (f" about {topic}" if topic else "") + ":\n")
                    out.write(json.dumps({"prompt": prompt, "completion": post["text"]}, ensure_ascii=False) + "\n")
                    written += 1
    return written
