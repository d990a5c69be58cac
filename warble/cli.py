"""The `warble` command: one entry point, each subcommand a thin wrapper over a stage's public function.

Errors the user can act on (`WarbleError`) become one clear line on stderr and exit code 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from warble import __version__
from warble.errors import WarbleError


def _add_config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="TOML file with defaults for this command (flags win)")


def _bool_flag(p: argparse.ArgumentParser, name: str, help: str) -> None:
    p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=help)


# ---------------------------------------------------------------------------------------------------- synth
def _synth_parser(sub) -> None:
    p = sub.add_parser("synth", help="generate the embedded default corpus: a simulated social platform",
                       description="Write a seeded, deterministic simulated platform dump (Twitter API v2 JSONL by "
                                   "default) with planted duplicates, spam, personal data and malformed records, "
                                   "plus ground truth under OUT/_truth/.")
    p.add_argument("--posts", type=int, default=20_000, help="number of posts (default 20000; tested 1k to 10M)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--format", dest="fmt", choices=["twitter_v2", "warble"], default="twitter_v2",
                   help="twitter_v2: API v2 responses, one per line; warble: Warble's own schema (JSONL)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes (output does not depend on it)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_synth)


def _cmd_synth(a) -> int:
    from warble.data.synth import synthesize

    if a.posts < 1:
        raise WarbleError("--posts must be at least 1")
    summary = synthesize(a.out, a.posts, seed=a.seed, fmt=a.fmt, workers=a.workers, progress=not a.no_progress)
    print(json.dumps(summary, indent=2, default=str))
    return 0


# ---------------------------------------------------------------------------------------------------- ingest
STAGES = ("normalize", "placeholders", "pii", "langid", "quality", "dedup")  # = fields of pipeline.StageSwitches
FORMATS = ("twitter_v2", "twitter_v1", "x_archive", "warble", "csv", "parquet", "text")  # = readers.FORMATS


def _ingest_parser(sub) -> None:
    p = sub.add_parser(
        "ingest", help="clean raw post dumps into a Parquet corpus",
        description="Read post dumps (Twitter API v2/v1.1 JSON, X archives, Warble JSONL, CSV, Parquet, plain text; "
                    "gzip/zstd transparent), quarantine malformed records, apply compliance lists, normalize, "
                    "scrub personal data, identify languages, filter spam, remove exact and near duplicates, and "
                    "write OUT/corpus/{train,validation}/*.parquet, OUT/quarantine/, OUT/manifest.json.\n\n"
                    "With --apply-deletions and no INPUT: remove opted-out authors and deleted posts from the "
                    "existing corpus in OUT.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files or directories (recursed)")
    p.add_argument("--out", required=True, help="output directory")
    _add_config_flag(p)
    p.add_argument("--format", choices=FORMATS,
                   help="input format for every file (default: detect per file)")
    p.add_argument("--executor", choices=["local", "ray"], help="local processes (default) or a Ray cluster "
                   "(RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("--workers", type=int, help="parallel processes (default: one per core)")
    p.add_argument("--opt-out", action="append", metavar="FILE", help="author ids to exclude, one per line")
    p.add_argument("--deletions", action="append", metavar="FILE", help="post ids to exclude, one per line")
    p.add_argument("--apply-deletions", action="store_true",
                   help="remove --opt-out/--deletions ids from the existing corpus in OUT (no INPUT)")
    p.add_argument("--langs", help="comma-separated language allow-list, e.g. en,es (default: all)")
    p.add_argument("--mentions", choices=["keep", "placeholder"], help="keep @mentions or replace with @user")
    p.add_argument("--urls", choices=["keep", "placeholder"], help="keep links or replace with http")
    p.add_argument("--near-dup-threshold", type=float, metavar="J",
                   help="Jaccard similarity (char 5-grams) at which posts are near duplicates (default 0.7)")
    p.add_argument("--validation-fraction", type=float, help="share of conversations held out (default 0.02)")
    for stage in STAGES:
        _bool_flag(p, stage, f"run the {stage} stage (default: on)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing corpus in OUT")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=_cmd_ingest)


def ingest_config_from_args(a):
    """IngestConfig from the TOML file (if any), with the flags given on the command line on top."""
    from dataclasses import replace

    from warble.config import from_dict, load_toml
    from warble.data.pipeline import IngestConfig

    cfg = from_dict(IngestConfig, load_toml(a.config))
    top = {k: getattr(a, k) for k in ("format", "executor", "workers", "validation_fraction")
           if getattr(a, k) is not None}
    if a.opt_out:
        top["opt_out"] = list(a.opt_out)
    if a.deletions:
        top["deletions"] = list(a.deletions)
    if a.langs:
        top["langid"] = replace(cfg.langid, allow=tuple(x.strip() for x in a.langs.split(",") if x.strip()))
    placeholders = {k: getattr(a, k) for k in ("mentions", "urls") if getattr(a, k)}
    if placeholders:
        top["placeholders"] = replace(cfg.placeholders, **placeholders)
    if a.near_dup_threshold is not None:
        top["dedup"] = replace(cfg.dedup, threshold=a.near_dup_threshold)
    switches = {s: getattr(a, s) for s in STAGES if getattr(a, s) is not None}
    if switches:
        top["stages"] = replace(cfg.stages, **switches)
    return replace(cfg, **top)


def _cmd_ingest(a) -> int:
    from warble.data.compliance import ComplianceLists
    from warble.data.pipeline import apply_deletions, run_ingest

    log = (lambda *x, **k: print(*x, file=sys.stderr, **k))
    if a.apply_deletions:
        if a.inputs:
            raise WarbleError("--apply-deletions works on the corpus in --out; give no INPUT")
        if not (a.opt_out or a.deletions):
            raise WarbleError("--apply-deletions needs --opt-out FILE and/or --deletions FILE")
        manifest = apply_deletions(a.out, ComplianceLists.load(a.opt_out or [], a.deletions or []), log=log)
    else:
        if not a.inputs:
            raise WarbleError("give at least one INPUT file or directory")
        manifest = run_ingest(a.inputs, a.out, ingest_config_from_args(a), overwrite=a.overwrite,
                              progress=not a.no_progress, log=log)
    if a.json:
        print(json.dumps(manifest, indent=2))
    else:
        from warble.data.summary import manifest_summary

        print(manifest_summary(manifest, Path(a.out)))
    return 0


# ---------------------------------------------------------------------------------------------------- tokenizer
def _tokenizer_parser(sub) -> None:
    p = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer on a corpus")
    tsub = p.add_subparsers(dest="tokenizer_command", metavar="SUBCOMMAND", required=True)
    t = tsub.add_parser("train", help="train a tokenizer on a corpus's train split",
                        description="Byte-level BPE (Hugging Face tokenizers) on a sample of CORPUS's train split, with "
                                    "post, placeholder and metadata control tokens. Writes OUT/tokenizer.json "
                                    "(loadable by transformers.PreTrainedTokenizerFast), OUT/warble.json and "
                                    "OUT/report.json (bytes per token on the validation split).")
    t.add_argument("corpus", help="a corpus directory written by `warble ingest`")
    t.add_argument("--out", required=True, help="output directory")
    t.add_argument("--vocab", type=int, default=8192, help="vocabulary size (default 8192)")
    t.add_argument("--sample", type=int, default=2_000_000, help="posts to train on at most (default 2M)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_cmd_tokenizer_train)


def _cmd_tokenizer_train(a) -> int:
    from warble.tokenizer import train_tokenizer

    report = train_tokenizer(a.corpus, a.out, vocab_size=a.vocab, sample_posts=a.sample, seed=a.seed,
                             progress=not a.no_progress)
    print(json.dumps(report, indent=2))
    return 0


def _tokenize_parser(sub) -> None:
    p = sub.add_parser("tokenize", help="turn a corpus into binary token shards for training",
                       description="Encode every post of CORPUS as [bos] (+ metadata control tokens) + text + [eos] "
                                   "into memory-mapped token shards with post boundaries (docs/CONTRACTS.md), in "
                                   "parallel, deterministic and resumable.")
    p.add_argument("corpus", help="a corpus directory written by `warble ingest`")
    p.add_argument("--tokenizer", required=True, help="a directory written by `warble tokenizer train`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--workers", type=int, default=0, help="parallel processes (default: one per core)")
    p.add_argument("--metadata-prefix", action="store_true",
                   help="start each post with its control tokens (language, reply, engagement, topic)")
    p.add_argument("--resume", action="store_true", help="keep shards a previous, interrupted run completed")
    p.add_argument("--no-progress", action="store_true")
    from warble.tokenizer.canaries import add_canary_arguments

    add_canary_arguments(p)
    p.set_defaults(func=_cmd_tokenize)


def _cmd_tokenize(a) -> int:
    from warble.tokenizer import tokenize_corpus
    from warble.tokenizer.canaries import canary_config_from_args

    summary = tokenize_corpus(a.corpus, a.tokenizer, a.out, workers=a.workers, metadata_prefix=a.metadata_prefix,
                              progress=not a.no_progress, resume=a.resume, canaries=canary_config_from_args(a))
    print(json.dumps(summary, indent=2, default=str))
    return 0


# ---------------------------------------------------------------------------------------------------- train, finetune
def _add_run_flags(p: argparse.ArgumentParser, data_help: str) -> None:
    """The flags of one run of the training loop, shared by `train` and `finetune`."""
    p.add_argument("--data", help=data_help)
    p.add_argument("--out", help="run directory")
    _add_config_flag(p)
    p.add_argument("--steps", type=int, help="total optimizer steps (default 200)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--parallel", choices=["auto", "none", "ddp", "fsdp"], help="default auto: ddp under torchrun")
    p.add_argument("--shard-degree", type=int, help="fsdp: processes per shard group; fewer than all gives HSDP")
    p.add_argument("--global-batch", type=int, help="sequences per optimizer step, all processes (default 8)")
    p.add_argument("--micro-batch", type=int, help="sequences per forward per process (gradient accumulation)")
    p.add_argument("--seq-len", type=int, help="tokens per sequence (default 256)")
    p.add_argument("--dtype", choices=["fp32", "bf16"], help="fp32 (default; bit-exact on CPU) or bf16")
    p.add_argument("--optimizer", choices=["adamw", "muon"], help="default adamw")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--schedule", choices=["cosine", "wsd", "constant"], help="learning-rate schedule after warmup")
    p.add_argument("--warmup", type=int, help="warmup steps")
    _bool_flag(p, "compile", "torch.compile the model")
    _bool_flag(p, "activation-checkpointing", "recompute each block's activations in the backward pass")
    _bool_flag(p, "doc-mask", "mask attention to each post (default on)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (0: never)")
    p.add_argument("--ckpt-every", type=int, help="steps between checkpoints (0: only at the end and on signals)")
    p.add_argument("--log-every", type=int, help="steps between log lines")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, help="CPU threads per process")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="pretrain the model on token shards (one process, or DDP/FSDP2 under torchrun)",
        description="Train a decoder-only transformer on token shards. Runs as one process, or under torchrun "
                    "(any number of processes and nodes) with DDP or FSDP2; gloo on CPU, NCCL on GPU. Writes "
                    "OUT/metrics.jsonl, OUT/checkpoints/ (DCP), OUT/model.safetensors, OUT/model.json, "
                    "OUT/tokenizer/, OUT/loss.png. SIGTERM/SIGINT write a checkpoint; --resume continues exactly.\n\n"
                    "  torchrun --standalone --nproc_per_node 2 -m warble train --data tokens/ --parallel fsdp ...\n"
                    "  warble train --preset 70b --dry-run --nodes 1250 --gpus-per-node 8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_flags(p, "token shards directory (warble tokenize)")
    p.add_argument("--preset", help="model size: test, tiny, cpu, 125m, 1b, 8b, 70b (default tiny; with --init-from "
                   "the shape is the starting model's, and a --preset given must match it)")
    p.add_argument("--init-from", metavar="RUN_OR_CKPT",
                   help="start from this model, shape and weights: a run directory with model.safetensors + "
                        "model.json (a finished run, or warble import) or a DCP checkpoint")
    p.add_argument("--dry-run", action="store_true", help="plan a run (model, layout, memory per GPU, step time) "
                   "without data or GPUs (--json: the plan as JSON)")
    p.add_argument("--nodes", type=int, default=1, help="dry run: nodes")
    p.add_argument("--gpus-per-node", type=int, default=8, help="dry run: GPUs per node")
    p.add_argument("--gpu", choices=["h100", "h200", "a100", "b200"], default="h100", help="dry run: GPU model")
    p.set_defaults(func=_cmd_train)


def train_config_from_args(a, cls=None):
    """A TrainConfig (or subclass `cls`) from the TOML file (if any), with the run flags given on top."""
    from dataclasses import replace

    from warble.config import from_dict, load_toml
    from warble.train.config import TrainConfig

    cfg = from_dict(cls or TrainConfig, load_toml(a.config))
    top = {k: getattr(a, k) for k in ("data", "preset", "steps", "init_from", "parallel", "shard_degree", "global_batch",
                                      "micro_batch", "seq_len", "dtype", "compile", "activation_checkpointing",
                                      "doc_mask", "eval_every", "ckpt_every", "log_every", "seed", "device", "threads")
           if getattr(a, k, None) is not None}  # preset and init_from are train's only
    optim = {k: v for k, v in (("name", a.optimizer), ("lr", a.lr)) if v is not None}
    if optim:
        top["optim"] = replace(cfg.optim, **optim)
    sched = {k: v for k, v in (("kind", a.schedule), ("warmup_steps", a.warmup)) if v is not None}
    if sched:
        top["schedule"] = replace(cfg.schedule, **sched)
    return replace(cfg, **top)


def _print_run_summary(a, summary: dict) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=2) if a.json else
              f"{a.out}: {summary['steps']} steps, {summary['tokens']:,} tokens, {summary['tokens_per_s']:,.0f} tok/s"
              + (f", val_loss {summary['val_loss']:.4f}, val_bpb {summary['val_bpb']:.4f}" if "val_loss" in summary
                 else ""))


def _cmd_train(a) -> int:
    if a.dry_run:
        from dataclasses import replace

        from warble.train.plan import PlanRequest, format_plan, plan

        req = PlanRequest(preset=a.preset or "tiny", nodes=a.nodes, gpus_per_node=a.gpus_per_node, gpu=a.gpu)
        given = {"seq_len": a.seq_len, "micro_batch": a.micro_batch, "shard_degree": a.shard_degree,
                 "activation_checkpointing": a.activation_checkpointing}
        req = replace(req, **{k: v for k, v in given.items() if v is not None})
        if a.global_batch:  # sequences, as in training; the plan counts tokens
            req = replace(req, global_batch_tokens=a.global_batch * req.seq_len)
        p = plan(req)
        print(json.dumps(p, indent=2) if a.json else format_plan(p))
        return 0
    if not a.out:
        raise WarbleError("--out RUN_DIR is required")
    from warble.train.loop import train

    _print_run_summary(a, train(train_config_from_args(a), a.out, resume=a.resume))
    return 0


def _finetune_parser(sub) -> None:
    p = sub.add_parser(
        "finetune", help="fine-tune a trained run on prompt/completion pairs (JSONL), fully or with LoRA",
        description="Supervised fine-tuning of a run of `warble train` (--model: its directory, with "
                    "model.safetensors or checkpoints) on JSONL lines {\"prompt\": ..., \"completion\": ...}, with "
                    "the loss on completion tokens only. Pairs longer than --seq-len lose prompt tokens from the left; "
                    "pairs whose completion does not fit are skipped and counted; a malformed line is an error naming "
                    "it. Validation: --val-data, else a deterministic 5% of the pairs (by prompt hash). The same "
                    "distributed paths, checkpoints and --resume as `warble train`, and the same run directory, so "
                    "OUT/ loads like a pretrained run. With --lora only low-rank adapters on the attention and MLP "
                    "layers train, and OUT/model.safetensors holds the merged, plain model. Default --lr: 3e-4, or "
                    "1e-3 with --lora; default warmup: 10% of the steps.\n\n"
                    "  warble finetune --model run/ --data pairs.jsonl --steps 50 --out ft/\n"
                    "  torchrun --standalone --nproc_per_node 2 -m warble finetune --model run/ --data pairs.jsonl "
                    "--lora --parallel fsdp --out ft/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="RUN_DIR", help="the pretrained run directory (required)")
    _add_run_flags(p, "prompt/completion pairs, JSONL (required)")
    p.add_argument("--val-data", metavar="PAIRS", help="validation pairs, JSONL (default: 5%% of --data)")
    p.add_argument("--val-fraction", type=float, help="share of --data held out when there is no --val-data")
    p.add_argument("--lora", action=argparse.BooleanOptionalAction, default=None,
                   help="train LoRA adapters only (merged into model.safetensors at the end)")
    p.add_argument("--lora-rank", type=int, help="adapter rank (default 8; implies --lora)")
    p.add_argument("--lora-alpha", type=float, help="adapter scale alpha, output x alpha/rank (default 16; implies "
                   "--lora)")
    p.set_defaults(func=_cmd_finetune)


def finetune_config_from_args(a):
    from dataclasses import replace

    from warble.config import load_toml
    from warble.train.finetune import LORA_LR, FinetuneConfig

    cfg = train_config_from_args(a, FinetuneConfig)
    top = {k: getattr(a, k) for k in ("model", "val_data", "val_fraction") if getattr(a, k) is not None}
    lora = {k: v for k, v in (("rank", a.lora_rank), ("alpha", a.lora_alpha)) if v is not None}
    if lora or a.lora is not None:
        top["lora"] = replace(cfg.lora, enabled=a.lora if a.lora is not None else True, **lora)
    cfg = replace(cfg, **top)
    lr_given = a.lr is not None or "lr" in load_toml(a.config).get("optim", {})
    if cfg.lora.enabled and not lr_given:
        cfg = replace(cfg, optim=replace(cfg.optim, lr=LORA_LR))
    return cfg


def _cmd_finetune(a) -> int:
    if not a.out:
        raise WarbleError("--out RUN_DIR is required")
    from warble.train.finetune import finetune

    _print_run_summary(a, finetune(finetune_config_from_args(a), a.out, resume=a.resume))
    return 0


def _checkpoint_parser(sub) -> None:
    p = sub.add_parser("checkpoint", help="work with training checkpoints")
    csub = p.add_subparsers(dest="checkpoint_command", metavar="SUBCOMMAND", required=True)
    c = csub.add_parser("consolidate", help="write a checkpoint's model weights as one safetensors file",
                        description="Load a DCP checkpoint (written by any number of processes) in one process and "
                                    "write its model weights to a single safetensors file.")
    c.add_argument("path", help="a run directory (its latest checkpoint) or a checkpoint directory")
    c.add_argument("--out", help="output file (default: RUN/model.safetensors beside the checkpoints)")
    c.set_defaults(func=_cmd_consolidate)


def _cmd_consolidate(a) -> int:
    from warble.train import checkpoint as ckpt
    from warble.train.lora import plain_weights

    path = ckpt.resolve(a.path)
    _, weights = plain_weights(path)  # LoRA adapters of a fine-tuning run merged: always a plain model
    out = Path(a.out) if a.out else path.parent.parent / "model.safetensors"
    print(ckpt.save_safetensors(weights, out, {"warble.step": str(ckpt.trainer_state(path)["step"])}))
    return 0


# ---------------------------------------------------------------------------------------------------- export, import
def _export_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="write a trained run as a Hugging Face transformers model (vLLM serves it)",
        description="Write a run (its model.safetensors, or its latest checkpoint) as a transformers model directory: "
                    "config.json (LlamaForCausalLM; Qwen3ForCausalLM for a model with QK-norm), model.safetensors, "
                    "tokenizer.json, tokenizer_config.json, special_tokens_map.json, generation_config.json. "
                    "AutoModelForCausalLM.from_pretrained(OUT) gives Warble's logits. docs/INTEROP.md.\n\n"
                    "  warble export --model run/ --format hf --out hf/\n"
                    "  warble export --model run/ --format hf --dtype bf16 --out hf-bf16/   # for GPU serving",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="a run directory (warble train, finetune, import)")
    p.add_argument("--format", dest="fmt", choices=["hf"], default="hf", help="hf: Hugging Face transformers")
    p.add_argument("--out", required=True, help="output directory (must be new or empty, unless --overwrite)")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32",
                   help="weight precision: fp32 (default, exact), bf16 (GPU serving), fp16")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_cmd_export)


def _cmd_export(a) -> int:
    from warble.model.hf import export_hf

    print(json.dumps(export_hf(a.model, a.out, dtype=a.dtype, overwrite=a.overwrite), indent=2))
    return 0


def _import_parser(sub) -> None:
    p = sub.add_parser(
        "import", help="turn a Hugging Face Llama checkpoint into a Warble run (for warble train --init-from)",
        description="Read a transformers checkpoint directory (config.json + model.safetensors, sharded safetensors "
                    "or pytorch_model.bin) of a LlamaForCausalLM (or a Qwen3ForCausalLM without sliding windows) and "
                    "write a Warble run directory: model.json, model.safetensors (fp32) and tokenizer/ when the "
                    "checkpoint carries a Warble tokenizer (another tokenizer is kept in hf_tokenizer/). What Warble's "
                    "model cannot represent (biases, scaled rotary, another activation, ...) is refused by name. "
                    "docs/INTEROP.md.\n\n"
                    "  warble import hf/ --out imported/\n"
                    "  warble train --data tokens/ --init-from imported/ --steps 1000 --out continued/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("hf_dir", metavar="HF_DIR", help="a transformers model directory (save_pretrained, warble export)")
    p.add_argument("--out", required=True, help="run directory to write (must be new or empty, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_cmd_import)


def _cmd_import(a) -> int:
    from warble.model.hf import import_hf

    print(json.dumps(import_hf(a.hf_dir, a.out, overwrite=a.overwrite), indent=2))
    return 0


# ---------------------------------------------------------------------------------------------------- quickstart
# ---------------------------------------------------------------------------------------------------- generate
def _generate_parser(sub) -> None:
    p = sub.add_parser(
        "generate", help="generate posts from a trained model",
        description="Continue each prompt with the model of a run directory (KV-cached, batched: every prompt and "
                    "--n sample in one continuous batch). Prompts come from --prompt (repeatable) and/or "
                    "--prompts-file (one per line; JSONL lines {\"prompt\": ...} also work); no prompt starts posts "
                    "from scratch. Metadata control tokens (--lang, --reply/--original, --engagement, --topic) "
                    "condition the posts as the model saw them in training.\n\n"
                    "  warble generate --model run/ --prompt \"just landed in\" --max-tokens 30 --seed 7\n"
                    "  warble generate --model run/ --lang es --topic sports --n 5 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="a run directory (train, finetune, import)")
    p.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    p.add_argument("--prompts-file", metavar="FILE", help="prompts, one per line (or JSONL with a prompt field)")
    p.add_argument("--n", type=int, default=1, help="completions per prompt (seeds seed, seed+1, ...)")
    p.add_argument("--max-tokens", type=int, default=64, help="new tokens at most (default 64)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (default 0.8)")
    p.add_argument("--top-k", type=int, default=0, help="0 = off (default)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling; 1 = off (default 0.95)")
    p.add_argument("--min-p", type=float, default=0.0, help="0 = off (default)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="1 = off (default)")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    p.add_argument("--seed", type=int, help="same seed, same text (default: random)")
    p.add_argument("--logprobs", type=int, metavar="K", help="with --json: each token's logprob and K alternatives")
    p.add_argument("--lang", help="condition: language code, e.g. en")
    reply = p.add_mutually_exclusive_group()
    reply.add_argument("--reply", dest="reply", action="store_true", default=None, help="condition: a reply")
    reply.add_argument("--original", dest="reply", action="store_false", help="condition: an original post")
    p.add_argument("--engagement", type=int, metavar="LIKES_PLUS_REPOSTS", help="condition: engagement (bucketed)")
    p.add_argument("--topic", help="condition: topic (one the tokenizer knows, else 'other')")
    p.add_argument("--json", action="store_true", help="one JSON object per completion (JSONL)")
    p.add_argument("--stream", action="store_true", help="print tokens as they come (one prompt, --n 1, no --json)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument("--dtype", default="auto", help="auto (bf16 where the hardware has it, else fp32), fp32, bf16")
    p.add_argument("--max-batch", type=int, default=32, help="sequences decoded together (default 32)")
    p.set_defaults(func=_cmd_generate)


def _read_prompts(path: str) -> list[str]:
    from warble.errors import InputError

    prompts = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--prompts-file {path}: cannot read it ({e})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
                raise InputError(f"{path}:{n}: expected {{\"prompt\": \"...\"}}")
            prompts.append(obj["prompt"])
        else:
            prompts.append(line)
    return prompts


def _cmd_generate(a) -> int:
    from dataclasses import asdict

    from warble.serve.engine import Engine
    from warble.serve.types import SamplingParams

    if a.n < 1:
        raise WarbleError("--n must be at least 1")
    prompts = list(a.prompt) + (_read_prompts(a.prompts_file) if a.prompts_file else [])
    prompts = prompts or [""]
    conditions = {k: v for k, v in (("lang", a.lang), ("reply", a.reply), ("engagement", a.engagement),
                                    ("topic", a.topic)) if v is not None}

    def params(i: int) -> SamplingParams:
        return SamplingParams(max_tokens=a.max_tokens, temperature=a.temperature, top_k=a.top_k, top_p=a.top_p,
                              min_p=a.min_p, repetition_penalty=a.repetition_penalty, stop=tuple(a.stop),
                              seed=None if a.seed is None else a.seed + i, logprobs=a.logprobs,
                              conditions=conditions or None)

    params(0)  # bad sampling flags fail before the model loads
    engine = Engine.load(a.model, device=a.device, dtype=a.dtype, max_batch=a.max_batch)
    try:
        if a.stream and len(prompts) == 1 and a.n == 1 and not a.json:
            print(prompts[0], end="", flush=True)
            for delta in engine.stream(prompts[0], params(0)):
                print(delta.text, end="", flush=True)
            print()
            return 0
        jobs = [(p, i) for p in prompts for i in range(a.n)]
        completions = engine.generate([p for p, _ in jobs], [params(i) for _, i in jobs])
        for (prompt, i), c in zip(jobs, completions):
            if a.json:
                out = {"prompt": prompt, "index": i, "text": c.text, "finish_reason": c.finish_reason,
                       "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens}
                if c.logprobs is not None:
                    out["logprobs"] = [asdict(e) for e in c.logprobs]
                print(json.dumps(out, ensure_ascii=False))
            else:
                print(f"{prompt}{c.text}")
    finally:
        engine.shutdown()
    return 0


# ---------------------------------------------------------------------------------------------------- eval
def _stage_command(sub, name: str, module: str) -> None:
    """A subcommand that lives with its stage: `module` gives HELP, DESCRIPTION, add_arguments(p) and run(args).

    Such modules keep heavy imports (torch, sklearn, fastapi) inside functions, so building this parser stays fast.
    """
    import importlib

    m = importlib.import_module(module)
    p = sub.add_parser(name, help=m.HELP, description=m.DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_arguments(p)
    p.set_defaults(func=m.run)


def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate: language modelling, TweetEval, memorization, search quality",
                       description="Evaluations that print numbers (and JSON with --json); each also writes its "
                                   "result under RUN/eval/ for `warble report`.")
    ev = p.add_subparsers(dest="eval_command", metavar="EVAL", required=True)
    _stage_command(ev, "lm", "warble.eval.lm_cli")
    _stage_command(ev, "tweeteval", "warble.eval.tweeteval_cli")
    _stage_command(ev, "memorization", "warble.eval.memorization_cli")
    s = ev.add_parser(
        "search", help="MAP@5, MRR, nDCG@10, Recall@100 of search on judged queries",
        description="Index the documents of --docs (TSV: id, then text columns, as CLEF's verified_claims.docs.tsv) "
                    "in a temporary index, run each query of --queries (TSV: id, text) as plain text (its words "
                    "OR-ed; no query operators), and score the top 100 against --qrels (TREC: query 0 doc "
                    "relevance). MAP@k, MRR, nDCG@k and Recall@k as trec_eval computes them.\n\n"
                    "  D=../shared/data/clef2020_claims\n"
                    "  warble eval search --docs $D/verified_claims.docs.tsv --queries $D/dev/tweets.queries.tsv \\\n"
                    "      --qrels $D/dev/tweet-vclaim-pairs.qrels --mode hybrid --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--docs", required=True, metavar="D.tsv")
    s.add_argument("--queries", required=True, metavar="Q.tsv")
    s.add_argument("--qrels", required=True, metavar="Q.qrels")
    s.add_argument("--mode", choices=["lexical", "dense", "hybrid"], default="hybrid")
    s.add_argument("--embedder", choices=["minilm", "warble"], default="minilm",
                   help="dense vectors: all-MiniLM-L6-v2 (default, shipped offline) or the Warble model (--model)")
    s.add_argument("--model", metavar="RUN_DIR", help="the run whose engine embeds (with --embedder warble)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_cmd_eval_search)


def _cmd_eval_search(a) -> int:
    from warble.eval.search_eval import eval_search

    if a.embedder == "warble" and not a.model and a.mode != "lexical":
        raise WarbleError("--embedder warble needs --model RUN_DIR")
    out = eval_search(a.docs, a.queries, a.qrels, mode=a.mode, embedder=a.embedder, model=a.model,
                      progress=not a.no_progress and not a.json)
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:26s} {v:.4f}" if isinstance(v, float) else f"{k:26s} {v}")
    return 0


def _ads_parser(sub) -> None:
    p = sub.add_parser("ads", help="ads: engagement prediction, ad copy, audiences, brand safety",
                       description="The platform's advertising stack on its own model. docs/ADS.md.")
    ads = p.add_subparsers(dest="ads_command", metavar="ADS", required=True)
    _stage_command(ads, "train-engagement", "warble.ads.engagement_cli")
    _stage_command(ads, "score", "warble.ads.score_cli")
    _stage_command(ads, "generate", "warble.ads.copy_cli")
    _stage_command(ads, "drafts", "warble.ads.drafts_cli")
    _stage_command(ads, "audience", "warble.ads.audience_cli")
    _stage_command(ads, "safety", "warble.ads.safety_cli")
    _stage_command(ads, "train-safety", "warble.ads.train_safety_cli")


def _quickstart_parser(sub) -> None:
    p = sub.add_parser("quickstart", help="run the whole pipeline on the embedded default corpus, end in a report",
                       description="Simulate a platform, ingest it, train a tokenizer and a small model on it, "
                                   "and write OUT/report.md with what was done, the numbers measured, the loss "
                                   "curve and sampled posts.")
    p.add_argument("--out", default="runs/quickstart", help="run directory (default: runs/quickstart)")
    p.add_argument("--posts", type=int, default=50_000, help="simulated posts (default 50000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="parallel processes (default: one per core)")
    p.add_argument("--preset", default="cpu", help="model to pretrain (default cpu, ~12M parameters)")
    p.add_argument("--train-steps", type=int, default=400, help="pretraining steps (default 400, a few minutes)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_quickstart)


def _cmd_quickstart(a) -> int:
    from warble.quickstart import run_quickstart

    report = run_quickstart(a.out, posts=a.posts, seed=a.seed, workers=a.workers, preset=a.preset,
                            train_steps=a.train_steps, progress=not a.no_progress)
    print(f"\nreport: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warble", description="Warble: a platform's own language model, trained on "
                                "its posts, for search and ads. Stages: synth -> ingest -> (tokenizer, train, "
                                "finetune, serve, search, ads, eval).")
    p.add_argument("--version", action="version", version=f"warble {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _synth_parser(sub)
    _ingest_parser(sub)
    _tokenizer_parser(sub)
    _tokenize_parser(sub)
    _train_parser(sub)
    _finetune_parser(sub)
    _checkpoint_parser(sub)
    _export_parser(sub)
    _import_parser(sub)
    _generate_parser(sub)
    _stage_command(sub, "serve", "warble.serve.serve_cli")
    _stage_command(sub, "index", "warble.search.index_cli")
    _stage_command(sub, "search", "warble.search.search_cli")
    _ads_parser(sub)
    _eval_parser(sub)
    _stage_command(sub, "report", "warble.eval.report_cli")
    _quickstart_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WarbleError as e:
        print(f"warble {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except FileNotFoundError as e:  # a path that vanished or was mistyped deep inside a stage
        print(f"warble {args.command}: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"warble {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
