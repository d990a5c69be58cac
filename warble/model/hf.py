"""Hugging Face interop: a Warble run <-> a transformers checkpoint directory.

    export_hf("run/", "hf/", dtype="bf16")   # -> config.json, model.safetensors, tokenizer files, generation_config.json
    import_hf("hf/", "imported/")            # -> model.json, model.safetensors, tokenizer/ (a run `warble train
                                             #    --init-from` continues)

The architectures match exactly, so the conversion is a renaming (`warble.model.model.HF_NAMES`):

- A model without QK-norm is a `LlamaForCausalLM`: RMSNorm pre-norm blocks, SwiGLU, grouped-query attention, no
  biases, default (unscaled) rotary embeddings, tied or untied head.
- A model with QK-norm is a `Qwen3ForCausalLM`: the same block plus an RMSNorm over each head's query and key
  (weights [head_dim], the model's eps) before the rotary embedding, which is what Warble's `qk_norm` does.
- Rotary embeddings use the half-split ("rotate_half") layout in both, so q/k weights are not permuted. (Meta's
  original Llama checkpoints interleave pairs instead; transformers' conversion script permutes them once, and
  checkpoints on the Hub are already in the half-split layout.)

Export writes into a temporary directory beside the destination and renames it into place, so a failed export
leaves nothing half-written; the same for import. docs/INTEROP.md has the config mapping and what is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from warble.errors import ConfigError, InputError
from warble.model.config import ModelConfig
from warble.model.model import DTYPES, HF_NAMES, Transformer, hf_state_dict

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
BIN_FILE = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"
TOKENIZER_FILE = "tokenizer.json"
HF_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
FOREIGN_TOKENIZER_DIR = "hf_tokenizer"  # an imported tokenizer that is not a Warble one is kept here

DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}
FP16_MAX = 65504.0
SHARD_BYTES = 5 * 2**30  # transformers' default max_shard_size

ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen3ForCausalLM": "qwen3"}  # what Warble's model is, exactly

# HF module names -> ours, split into top-level and per-block (the inverse of HF_NAMES).
_TOP = {hf: ours for ours, hf in HF_NAMES.items() if hf.startswith("model.") or hf == "lm_head"}
_BLOCK = {hf: ours for ours, hf in HF_NAMES.items() if hf not in _TOP}


# ---------------------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _atomic_dir(out_dir: str | Path, overwrite: bool, source: str | Path):
    """Yield a fresh temporary directory beside `out_dir`; on success it becomes `out_dir` (an empty `out_dir`, or
    with `overwrite` any `out_dir`, is replaced), on failure it is removed and `out_dir` is untouched. `source` (what
    is read) may not be `out_dir` or inside it: replacing it would destroy the input."""
    out = Path(out_dir)
    src = Path(source).resolve()
    if src == out.resolve() or out.resolve() in src.parents:
        raise InputError(f"--out {out} would replace the input {source}; write somewhere else")
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not overwrite:
            raise InputError(f"{out} already exists and is not empty; choose another --out or pass --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _save_sharded(tensors: dict[str, torch.Tensor], out: Path, shard_bytes: int) -> list[str]:
    """model.safetensors, or model-0000i-of-0000n.safetensors + model.safetensors.index.json past `shard_bytes`
    (transformers' layout); returns the file names written."""
    from safetensors.torch import save_file

    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        if shards[-1] and size + n > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += n
    if len(shards) == 1:
        save_file(shards[0], str(out / WEIGHTS_FILE), metadata={"format": "pt"})
        return [WEIGHTS_FILE]
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map = {}
    for file, shard in zip(names, shards):
        save_file(shard, str(out / file), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, file))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    _write_json({"metadata": {"total_size": total}, "weight_map": weight_map}, out / WEIGHTS_INDEX)
    return [*names, WEIGHTS_INDEX]


# ---------------------------------------------------------------------------------------------------- export
def hf_config(mcfg: ModelConfig, dtype: torch.dtype = torch.float32, token_ids: dict[str, int] | None = None
              ) -> dict[str, Any]:
    """The transformers config.json of a Warble model: LlamaForCausalLM, or Qwen3ForCausalLM with QK-norm."""
    ids = token_ids or {}
    arch = "Qwen3ForCausalLM" if mcfg.qk_norm else "LlamaForCausalLM"
    cfg: dict[str, Any] = {
        "architectures": [arch],
        "model_type": ARCHITECTURES[arch],
        "vocab_size": mcfg.vocab_size,
        "hidden_size": mcfg.d_model,
        "intermediate_size": mcfg.ffn_dim,
        "num_hidden_layers": mcfg.n_layers,
        "num_attention_heads": mcfg.n_heads,
        "num_key_value_heads": mcfg.n_kv_heads,
        "head_dim": mcfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": mcfg.max_seq_len,
        "rms_norm_eps": mcfg.norm_eps,
        # transformers >= 5 reads rope_parameters; older transformers (and vLLM builds on them) read rope_theta
        "rope_parameters": {"rope_type": "default", "rope_theta": mcfg.rope_theta},
        "rope_theta": mcfg.rope_theta,
        "tie_word_embeddings": mcfg.tie_embeddings,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "initializer_range": mcfg.init_std,
        "use_cache": True,
        "bos_token_id": ids.get("bos"),
        "eos_token_id": ids.get("eos"),
        "pad_token_id": ids.get("pad"),
        "dtype": DTYPE_NAMES[dtype],
        "torch_dtype": DTYPE_NAMES[dtype],  # the name before transformers 5
    }
    if mcfg.qk_norm:
        cfg |= {"use_sliding_window": False, "sliding_window": None, "max_window_layers": mcfg.n_layers,
                "layer_types": ["full_attention"] * mcfg.n_layers}
    else:
        cfg |= {"mlp_bias": False, "pretraining_tp": 1}
    return cfg


def _tokenizer_files(tok, max_len: int, out: Path) -> list[str]:
    """tokenizer.json with a post-processor that prepends <|bos|> (every post Warble trains on starts with it, so
    `tokenizer(text)` in transformers and vLLM gives the model what it expects), tokenizer_config.json,
    special_tokens_map.json and Warble's warble.json (the control-token table)."""
    import tokenizers
    from tokenizers import processors

    from warble.tokenizer import specials as sp

    tok.save(out)  # tokenizer.json, and warble.json: control tokens, placeholders, engagement buckets
    hf = tokenizers.Tokenizer.from_str(tok.to_json())
    hf.post_processor = processors.TemplateProcessing(
        single=f"{sp.BOS}:0 $A:0", pair=f"{sp.BOS}:0 $A:0 {sp.BOS}:1 $B:1", special_tokens=[(sp.BOS, tok.bos_id)])
    (out / TOKENIZER_FILE).write_text(hf.to_str(pretty=True))
    special = {"bos_token": sp.BOS, "eos_token": sp.EOS, "pad_token": sp.PAD}
    _write_json({
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "unk_token": None,  # byte-level BPE: every text encodes, there is no unknown token
        "add_bos_token": True,  # tokenizer(text) = [<|bos|>] + text ids; add_special_tokens=False: text ids only
        "add_eos_token": False,  # generation stops at <|eos|> (generation_config.json)
        # Text never produces a special token in Warble ("<|eos|>" typed in a post stays text): the same here
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,  # decode exactly, as Warble does
        "model_max_length": max_len,
        "padding_side": "left",  # batched generation (decoder-only models continue from the right)
    }, out / "tokenizer_config.json")
    _write_json(special, out / "special_tokens_map.json")
    return [TOKENIZER_FILE, "tokenizer_config.json", "special_tokens_map.json", "warble.json"]


def export_hf(model_dir: str | Path, out_dir: str | Path, *, dtype: str = "fp32", overwrite: bool = False,
              shard_bytes: int = SHARD_BYTES) -> dict[str, Any]:
    """Write the run `model_dir` (model.safetensors + model.json, or its latest checkpoint) as a transformers
    directory `out_dir`; returns a summary. `dtype`: fp32 (exact), bf16 (what GPUs serve) or fp16."""
    from safetensors import SafetensorError

    from warble.tokenizer import Tokenizer
    from warble.train.finetune import load_pretrained

    if dtype not in DTYPES:
        raise ConfigError(f"export dtype must be one of {', '.join(DTYPES)}, got {dtype!r} (quantized formats are "
                          "for the serving stack to produce)")
    torch_dtype = DTYPES[dtype]
    mcfg, weights = load_pretrained(model_dir)
    tok_dir = Path(model_dir) / "tokenizer"
    tok = Tokenizer.load(tok_dir) if (tok_dir / TOKENIZER_FILE).is_file() else None
    if tok is not None and tok.vocab_size > mcfg.vocab_size:
        raise InputError(f"{tok_dir} has {tok.vocab_size} tokens, the model only {mcfg.vocab_size}")
    with _atomic_dir(out_dir, overwrite, model_dir) as tmp:  # checked before the weights are read
        try:
            sd = weights()
        except (SafetensorError, OSError) as e:
            raise InputError(f"{model_dir}: unreadable weights ({e})") from None
        with torch.device("meta"):
            model = Transformer(mcfg)
        try:  # strict: the run's weights are exactly the model's (assign: no copy)
            model.load_state_dict(sd, strict=True, assign=True)
        except RuntimeError as e:
            raise InputError(f"{model_dir}: weights do not match its {mcfg}: {e}") from None
        tensors = {}
        for name, t in hf_state_dict(model).items():
            if not torch.isfinite(t).all():
                raise InputError(f"{model_dir}: weight {name} holds NaN or inf; refusing to export a broken model")
            if torch_dtype == torch.float16 and t.abs().max() > FP16_MAX:
                raise ConfigError(f"weight {name} has values beyond fp16's range (|x| > {FP16_MAX:g}); export as "
                                  "bf16 or fp32")
            tensors[name] = t.detach().to(torch_dtype).contiguous()
        ids = {"bos": tok.bos_id, "eos": tok.eos_id, "pad": tok.pad_id} if tok else None
        config = hf_config(mcfg, torch_dtype, ids)
        files = [CONFIG_FILE]
        _write_json(config, tmp / CONFIG_FILE)
        files += _save_sharded(tensors, tmp, shard_bytes)
        if tok is not None:
            files += _tokenizer_files(tok, mcfg.max_seq_len, tmp)
            _write_json({"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "pad_token_id": tok.pad_id,
                         "do_sample": False, "max_length": mcfg.max_seq_len}, tmp / "generation_config.json")
            files.append("generation_config.json")
    return {"out": str(out_dir), "architecture": config["architectures"][0], "dtype": dtype,
            "params": sum(t.numel() for t in tensors.values()), "tokenizer": tok is not None, "files": files}


# ---------------------------------------------------------------------------------------------------- import
def _read_config(hf_dir: Path) -> dict[str, Any]:
    path = hf_dir / CONFIG_FILE
    if not hf_dir.is_dir():
        raise InputError(f"{hf_dir}: no such directory")
    if not path.is_file():
        raise InputError(f"{hf_dir}: no {CONFIG_FILE} (not a Hugging Face model directory)")
    try:
        cfg = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: expected a JSON object")
    return cfg


def _rope_theta(cfg: dict[str, Any], where: Path) -> float:
    """rope_theta from rope_parameters (transformers >= 5) or the legacy keys; scaled rotary is refused."""
    params = cfg.get("rope_parameters")
    legacy = cfg.get("rope_scaling")
    if params is not None and not (isinstance(params, dict) and ("rope_type" in params or "type" in params
                                                                 or "rope_theta" in params)):
        raise InputError(f"{where}: rope_parameters {params!r} (per-layer-type rotary) is not supported: Warble "
                         "uses one default rotary embedding")
    for key, value in (("rope_parameters", params), ("rope_scaling", legacy)):
        if isinstance(value, dict):
            kind = value.get("rope_type", value.get("type", "default"))
            if kind != "default":
                raise InputError(f"{where}: {key} has rope_type {kind!r}; Warble supports only default (unscaled) "
                                 "rotary embeddings")
        elif value is not None:
            raise InputError(f"{where}: {key} {value!r} is not understood")
    if (params or {}).get("partial_rotary_factor", cfg.get("partial_rotary_factor", 1.0)) != 1.0:
        raise InputError(f"{where}: partial_rotary_factor != 1 (rotary on part of each head) is not supported")
    theta = (params or {}).get("rope_theta", cfg.get("rope_theta", 10000.0))
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or theta <= 0:
        raise InputError(f"{where}: rope_theta {theta!r} must be a positive number")
    return float(theta)


def model_config_from_hf(cfg: dict[str, Any], where: Path | str = CONFIG_FILE) -> ModelConfig:
    """The Warble ModelConfig of a transformers config.json, or InputError naming the first field Warble's model
    cannot represent."""
    where = Path(where)
    archs = cfg.get("architectures") or []
    model_type = cfg.get("model_type")
    if archs:
        if len(archs) != 1 or archs[0] not in ARCHITECTURES:
            raise InputError(f"{where}: architectures {archs} is not supported; Warble imports "
                             f"{' or '.join(ARCHITECTURES)}")
        arch = archs[0]
        if model_type is not None and model_type != ARCHITECTURES[arch]:
            raise InputError(f"{where}: model_type {model_type!r} does not match architectures {archs}")
    elif model_type in ARCHITECTURES.values():
        arch = next(a for a, t in ARCHITECTURES.items() if t == model_type)
    else:
        raise InputError(f"{where}: model_type {model_type!r} and no architectures: Warble imports "
                         f"{' or '.join(ARCHITECTURES)}")
    qwen3 = arch == "Qwen3ForCausalLM"
    if "quantization_config" in cfg:
        raise InputError(f"{where}: quantization_config: quantized checkpoints cannot be imported (use the full "
                         "precision weights)")
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        raise InputError(f"{where}: hidden_act {act!r}: Warble's MLP is SwiGLU (silu)")
    for key in ("attention_bias", "mlp_bias"):
        if cfg.get(key):
            raise InputError(f"{where}: {key} is true: Warble's linear layers have no biases")
    if qwen3:
        if cfg.get("use_sliding_window"):
            raise InputError(f"{where}: use_sliding_window is true: Warble attends over the whole context")
        if any(t != "full_attention" for t in cfg.get("layer_types") or []):
            raise InputError(f"{where}: layer_types has sliding-window layers: Warble attends over the whole context")
    elif cfg.get("sliding_window") is not None:
        raise InputError(f"{where}: sliding_window {cfg['sliding_window']}: Warble attends over the whole context")

    def positive(key, default=None, kind=int):
        v = cfg.get(key, default)
        if v is None and default is not None:
            v = default
        if not isinstance(v, kind) or isinstance(v, bool) or v <= 0:
            raise InputError(f"{where}: {key} {v!r} must be a positive {'integer' if kind is int else 'number'}")
        return v

    d, heads = positive("hidden_size"), positive("num_attention_heads")
    kv = positive("num_key_value_heads", heads)
    if d % heads:
        raise InputError(f"{where}: hidden_size {d} is not divisible by num_attention_heads {heads}")
    head_dim = cfg.get("head_dim")
    if head_dim is not None and head_dim != d // heads:
        raise InputError(f"{where}: head_dim {head_dim} != hidden_size / num_attention_heads = {d // heads}: Warble "
                         "derives the head size from the model width")
    try:
        return ModelConfig(
            vocab_size=positive("vocab_size"), d_model=d, n_layers=positive("num_hidden_layers"), n_heads=heads,
            n_kv_heads=kv, ffn_dim=positive("intermediate_size"),
            max_seq_len=positive("max_position_embeddings", 32768 if qwen3 else 2048),
            rope_theta=_rope_theta(cfg, where), norm_eps=float(positive("rms_norm_eps", 1e-6, (int, float))),
            qk_norm=qwen3, tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            init_std=float(positive("initializer_range", 0.02, (int, float))))
    except ConfigError as e:
        raise InputError(f"{where}: {e}") from None


def _read_weights(hf_dir: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the checkpoint: model.safetensors, sharded safetensors (index), or pytorch_model.bin."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    def index_files(index: Path) -> list[Path]:
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{index}: not a weight index ({e})") from None
        files = [hf_dir / f for f in dict.fromkeys(weight_map.values())]
        for f in files:
            if not f.is_file():
                raise InputError(f"{index} names {f.name}, which is missing")
        return files

    if (hf_dir / WEIGHTS_FILE).is_file():
        files, kind = [hf_dir / WEIGHTS_FILE], "safetensors"
    elif (hf_dir / WEIGHTS_INDEX).is_file():
        files, kind = index_files(hf_dir / WEIGHTS_INDEX), "safetensors"
    elif (hf_dir / BIN_FILE).is_file():
        files, kind = [hf_dir / BIN_FILE], "bin"
    elif (hf_dir / BIN_INDEX).is_file():
        files, kind = index_files(hf_dir / BIN_INDEX), "bin"
    else:
        raise InputError(f"{hf_dir}: no weights ({WEIGHTS_FILE}, {WEIGHTS_INDEX}, {BIN_FILE} or {BIN_INDEX})")
    sd: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            part = load_file(f) if kind == "safetensors" else torch.load(f, map_location="cpu", weights_only=True)
        except (SafetensorError, OSError, RuntimeError, ValueError, pickle.UnpicklingError) as e:
            raise InputError(f"{f}: unreadable weights ({e})") from None
        sd.update(part)
    return sd


def _warble_name(name: str) -> str | None:
    module, param = name.rsplit(".", 1) if "." in name else (name, "")
    if module.startswith("model.layers."):
        parts = module.split(".", 3)
        if len(parts) == 4 and parts[2].isdigit() and parts[3] in _BLOCK:
            return f"layers.{parts[2]}.{_BLOCK[parts[3]]}.{param}"
        return None
    return f"{_TOP[module]}.{param}" if module in _TOP else None


def warble_state_dict(hf_sd: dict[str, torch.Tensor], mcfg: ModelConfig, where: Path | str = "") -> dict[str, torch.Tensor]:
    """HF tensor names -> Warble's, checked against `mcfg`'s model: every weight present with its shape, nothing
    else (rotary inv_freq buffers, which some old checkpoints carry, are derived and dropped). fp32."""
    sd, unexpected = {}, []
    for name, t in hf_sd.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue
        ours = _warble_name(name)
        if ours is None:
            unexpected.append(name)
        else:
            sd[ours] = t
    if mcfg.tie_embeddings and "lm_head.weight" in sd:
        head = sd.pop("lm_head.weight")
        emb = sd.setdefault("tok_emb.weight", head)  # some tied checkpoints store the matrix as lm_head only
        if not torch.equal(head, emb):
            raise InputError(f"{where}: tie_word_embeddings is true but lm_head.weight differs from "
                             "model.embed_tokens.weight")
    with torch.device("meta"):
        expected = Transformer(mcfg).state_dict()
    unexpected += [hf for hf, ours in ((h, _warble_name(h)) for h in hf_sd) if ours is not None and ours in sd
                   and ours not in expected]
    if unexpected:
        shown = ", ".join(sorted(unexpected)[:5]) + (f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else "")
        raise InputError(f"{where}: weights Warble's model does not have: {shown} (biases, extra modules or "
                         "another architecture)")
    missing = [n for n in expected if n not in sd]
    if missing:
        hf_names = {w: h for w, h in zip(expected, _hf_names(expected))}
        shown = ", ".join(hf_names[n] for n in missing[:5]) + (f" and {len(missing) - 5} more"
                                                                 if len(missing) > 5 else "")
        raise InputError(f"{where}: missing weights: {shown}")
    for name, want in expected.items():
        if tuple(sd[name].shape) != tuple(want.shape):
            raise InputError(f"{where}: weight {_hf_names([name])[0]} has shape {tuple(sd[name].shape)}, the config "
                             f"says {tuple(want.shape)}")
        if not sd[name].is_floating_point():
            raise InputError(f"{where}: weight {_hf_names([name])[0]} is {sd[name].dtype}, not a float tensor")
    return {n: sd[n].to(torch.float32).contiguous() for n in expected}


def _hf_names(warble_names) -> list[str]:
    out = []
    for name in warble_names:
        module, param = name.rsplit(".", 1)
        if module.startswith("layers."):
            _, i, rest = module.split(".", 2)
            out.append(f"model.layers.{i}.{HF_NAMES[rest]}.{param}")
        else:
            out.append(f"{HF_NAMES[module]}.{param}")
    return out


def _import_tokenizer(hf_dir: Path, mcfg: ModelConfig, out: Path) -> str | None:
    """tokenizer/ for a Warble tokenizer (what an export wrote), hf_tokenizer/ (kept as is) for any other."""
    import tokenizers

    from warble.tokenizer import Tokenizer

    file = hf_dir / TOKENIZER_FILE
    if not file.is_file():
        return None
    try:
        hf = tokenizers.Tokenizer.from_file(str(file))
    except Exception as e:  # noqa: BLE001 (tokenizers raises a bare Exception for malformed JSON)
        raise InputError(f"{file}: not a readable tokenizer ({e})") from None
    if hf.get_vocab_size(with_added_tokens=True) > mcfg.vocab_size:
        raise InputError(f"{file} has {hf.get_vocab_size(with_added_tokens=True)} tokens, the model's vocab_size is "
                         f"only {mcfg.vocab_size}")
    try:
        hf.post_processor = None  # Warble adds <|bos|> itself (encode_post); the export added it for transformers
        tok = Tokenizer(hf)
    except InputError:  # not a Warble tokenizer (no <|bos|>, placeholders, ...): kept for reference
        (out / FOREIGN_TOKENIZER_DIR).mkdir()
        for name in HF_TOKENIZER_FILES:
            if (hf_dir / name).is_file():
                shutil.copy2(hf_dir / name, out / FOREIGN_TOKENIZER_DIR / name)
        return "foreign"
    tok.save(out / "tokenizer")
    return "warble"


def import_hf(hf_dir: str | Path, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Write the transformers checkpoint `hf_dir` (Llama, or Qwen3 without sliding windows) as a Warble run
    directory `out_dir`: model.json, model.safetensors (fp32) and tokenizer/ (if it has a Warble tokenizer).
    Returns a summary."""
    from warble.train.checkpoint import save_safetensors
    from warble.train.loop import MODEL_CONFIG, MODEL_FILE

    src = Path(hf_dir)
    cfg = _read_config(src)
    mcfg = model_config_from_hf(cfg, src / CONFIG_FILE)
    with _atomic_dir(out_dir, overwrite, src) as tmp:
        hf_sd = _read_weights(src)
        dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in hf_sd.values()})
        sd = warble_state_dict(hf_sd, mcfg, src)
        del hf_sd
        (tmp / MODEL_CONFIG).write_text(json.dumps(asdict(mcfg), indent=2))
        save_safetensors(sd, tmp / MODEL_FILE, {"warble.imported_from": cfg["architectures"][0]
                                                if cfg.get("architectures") else str(cfg.get("model_type"))})
        tokenizer = _import_tokenizer(src, mcfg, tmp)
    summary = {"out": str(out_dir), "architecture": (cfg.get("architectures") or [cfg.get("model_type")])[0],
               "source_dtype": dtypes, "params": sum(t.numel() for t in sd.values()), "model": asdict(mcfg),
               "tokenizer": tokenizer}
    if tokenizer == "foreign":
        summary["note"] = (f"the tokenizer is not a Warble tokenizer: kept in {FOREIGN_TOKENIZER_DIR}/; Warble's "
                           "tokenize/generate stages need one with Warble's special tokens")
    elif tokenizer is None:
        summary["note"] = "no tokenizer.json: the run has weights only (train it on token shards of a matching vocab)"
    return summary
