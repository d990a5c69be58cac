"""Fine-tuning on CPU: loss on completions only, loss falls, LoRA trains adapters only and merges exactly, exact
resume, DDP and FSDP2 equal one process, the CLI end to end, and clear errors for bad inputs.

One tiny pretrained run is shared by the module; multi-process tests launch `torchrun` with gloo.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from warble.cli import build_parser, finetune_config_from_args, main
from warble.errors import InputError
from warble.model import ModelConfig, Transformer
from warble.tokenizer import Tokenizer
from warble.train import checkpoint as ckpt
from warble.train.config import TrainConfig
from warble.train.data import IGNORE
from warble.train.finetune import FinetuneConfig, PairLoader, Pairs, finetune, pairs_from_corpus
from warble.train.loop import train
from warble.train.lora import LoRA, LoraConfig
from warble.train.optim import OptimConfig
from warble.train.schedule import ScheduleConfig

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def pretrained(tokens_dir, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("pretrained") / "run"
    train(TrainConfig(data=str(tokens_dir), preset="test", seq_len=64, global_batch=4, steps=5, eval_every=0,
                      log_every=1, threads=1, schedule=ScheduleConfig(warmup_steps=3)), run)
    return run


@pytest.fixture(scope="module")
def pairs(corpus_dir, synth_raw, tmp_path_factory) -> Path:
    """30 posts of the corpus as "Write a post in <language> about <topic>:" pairs (topics from the ground truth)."""
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    assert pairs_from_corpus(corpus_dir, path, 30, truth_dir=synth_raw) == 30
    return path


def _cfg(model, data, **kw) -> FinetuneConfig:
    base = {"model": str(model), "data": str(data), "seq_len": 64, "global_batch": 4, "eval_every": 0, "log_every": 1,
            "threads": 1}
    return FinetuneConfig(**{**base, **kw})


def _losses(run: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _model_with_lora(run: Path, lora: LoRA) -> Transformer:
    """The fine-tuned model before merging: base weights + adapters from the latest checkpoint."""
    model = lora.apply(Transformer(ModelConfig(**json.loads((run / "model.json").read_text()))))
    ckpt.load(ckpt.latest(run), model, None)
    return model.eval()


def test_loss_only_on_completion_tokens(pretrained):
    tok = Tokenizer.load(pretrained / "tokenizer")
    examples = [("Question: what is the capital of France?\nAnswer:", " Paris"),
                ("Translate to Spanish: good morning\n", "buenos días"),
                ("a long prompt " * 40, "kept whole"),  # prompt cut from the left to fit
                ("short", "a completion far too long to fit " * 10)]  # skipped
    data = Pairs(tok, examples, seq_len=32)
    assert (len(data), data.truncated, data.skipped) == (3, 1, 1)
    batch = next(PairLoader(data, global_batch=4, seq_len=32, seed=0))
    checked = 0
    for r in range(batch.tokens.shape[0]):
        for doc in batch.doc_ids[r].unique():
            where = (batch.doc_ids[r] == doc).nonzero().flatten()
            toks, tgts = batch.tokens[r, where].tolist(), batch.targets[r, where].tolist()
            if toks[0] != tok.bos_id:
                continue  # padding
            i = next(i for i, (p, c) in enumerate(examples[:3]) if toks[-1 - len(tok.encode(c)):-1] == tok.encode(c))
            completion = tok.encode(examples[i][1])
            n_prompt = len(toks) - 2 - len(completion)  # after any truncation
            assert toks[-1] == tok.eos_id and batch.positions[r, where].tolist() == list(range(len(toks)))
            assert tgts[:n_prompt] == [IGNORE] * n_prompt  # no loss on the prompt (nor on predicting it from bos)
            assert tgts[n_prompt:-1] == completion + [tok.eos_id]  # the completion and the end of it
            assert tgts[-1] == IGNORE
            if i == 2:
                assert toks[1:1 + n_prompt] == tok.encode(examples[2][0])[-n_prompt:] and len(toks) == 32
            checked += 1
    assert checked >= 3


def test_loss_falls_and_run_dir_is_complete(pretrained, pairs, tmp_path):
    run = tmp_path / "ft"
    summary = finetune(_cfg(pretrained, pairs, steps=30, eval_every=30, optim=OptimConfig(lr=3e-3)), run)
    losses = _losses(run)
    assert sum(losses[s] for s in (28, 29, 30)) / 3 < losses[1] - 1.0, losses
    for name in ("model.safetensors", "model.json", "tokenizer", "config.toml", "metrics.jsonl", "checkpoints",
                 "loss.png", "summary.json"):
        assert (run / name).exists(), name
    assert summary["data"]["train_pairs"] + summary["data"]["validation_pairs"] + \
        summary["data"]["skipped_too_long"] == 30
    assert summary["val_loss"] > 0 and summary["val_bpb"] > 0
    # Later stages load it as they load a pretrained run.
    model = Transformer(ModelConfig(**json.loads((run / "model.json").read_text())))
    model.load_state_dict(load_file(run / "model.safetensors"))
    Tokenizer.load(run / "tokenizer")


def test_lora_trains_adapters_only_and_merges_exactly(pretrained, pairs, tmp_path):
    run = tmp_path / "lora"
    cfg = _cfg(pretrained, pairs, steps=8, lora=LoraConfig(enabled=True, rank=4, alpha=8.0), optim=OptimConfig(lr=1e-2))
    summary = finetune(cfg, run)
    base = load_file(pretrained / "model.safetensors")
    lora = LoRA(cfg.lora)
    unmerged = _model_with_lora(run, lora)
    adapters = {k: v for k, v in unmerged.state_dict().items() if k.endswith(("lora_a", "lora_b"))}
    assert len(adapters) == 2 * 7 * unmerged.cfg.n_layers
    assert summary["trainable_params"] == sum(v.numel() for v in adapters.values())
    assert all(v.abs().sum() > 0 for k, v in adapters.items() if k.endswith("lora_b"))  # B left zero: trained
    for name, w in unmerged.state_dict().items():
        if name not in adapters:
            assert torch.equal(w, base[name]), name  # frozen: bit-identical to the pretrained weights
    merged = Transformer(unmerged.cfg)
    merged.load_state_dict(load_file(run / "model.safetensors"))  # strict: a plain model
    assert not torch.equal(merged.layers[0].attn.wq.weight, base["layers.0.attn.wq.weight"])
    tokens = torch.randint(0, unmerged.cfg.vocab_size, (2, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(merged(tokens), unmerged(tokens), atol=1e-5, rtol=0)


@pytest.mark.parametrize("lora", [False, True])
def test_resume_is_bit_exact(pretrained, pairs, tmp_path, lora):
    # constant lr: a 3-step run then a resume to 6 sees the same schedule as one 6-step run
    kw = {"lora": LoraConfig(enabled=lora), "schedule": ScheduleConfig(kind="constant", warmup_steps=0),
          "optim": OptimConfig(lr=1e-2 if lora else 3e-3)}
    finetune(_cfg(pretrained, pairs, steps=6, **kw), tmp_path / "full")
    finetune(_cfg(pretrained, pairs, steps=3, **kw), tmp_path / "split")
    finetune(_cfg(pretrained, pairs, steps=6, **kw), tmp_path / "split", resume=True)
    assert _losses(tmp_path / "split") == _losses(tmp_path / "full")  # every step's loss, bit for bit
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "split" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(InputError, match="same settings"):  # a LoRA run resumes only as LoRA, and vice versa
        finetune(_cfg(pretrained, pairs, steps=7, **{**kw, "lora": LoraConfig(enabled=not lora)}),
                 tmp_path / "split", resume=True)


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_lora_two_processes_match_one(pretrained, pairs, tmp_path, parallel):
    args = ["finetune", "--model", pretrained, "--data", pairs, "--seq-len", "64", "--global-batch", "4", "--steps",
            "3", "--lora", "--threads", "1", "--log-every", "1", "--eval-every", "0"]
    assert main([str(a) for a in args + ["--out", tmp_path / "one"]]) == 0
    p = subprocess.run([BIN / "torchrun", "--standalone", "--nproc_per_node", "2", "-m", "warble", *args,
                        "--parallel", parallel, "--out", tmp_path / "two"], capture_output=True, text=True, env=ENV, check=False,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert a.keys() == b.keys() and all(abs(a[s] - b[s]) < 1e-4 * a[s] for s in a), (a, b)
    wa, wb = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)


def test_cli_acceptance_command(pretrained, pairs, tmp_path):
    ft = tmp_path / "ft"
    p = subprocess.run([BIN / "warble", "finetune", "--model", pretrained, "--data", pairs, "--steps", "50", "--out",
                        ft], capture_output=True, text=True, env=ENV, check=False, timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    for name in ("model.safetensors", "model.json", "tokenizer", "config.toml", "metrics.jsonl", "checkpoints",
                 "loss.png"):
        assert (ft / name).exists(), name
    assert max(_losses(ft)) == 50 and ckpt.latest(ft).name == "step_000050"
    model = Transformer(ModelConfig(**json.loads((ft / "model.json").read_text())))
    model.load_state_dict(load_file(ft / "model.safetensors"))


def test_cli_defaults():
    def cfg(*flags):
        return finetune_config_from_args(build_parser().parse_args(["finetune", *flags]))

    assert cfg().optim.lr == 3e-4 and not cfg().lora.enabled
    assert cfg("--lora").optim.lr == 1e-3 and cfg("--lora").lora.rank == 8
    assert cfg("--lora", "--lr", "5e-4").optim.lr == 5e-4
    assert cfg("--lora-rank", "4").lora.enabled and cfg("--lora-rank", "4").lora.rank == 4


def test_bad_inputs_are_clear_errors(pretrained, pairs, tmp_path, capsys):
    def error(*flags) -> str:
        capsys.readouterr()
        assert main(["finetune", *map(str, flags), "--steps", "1", "--threads", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("warble finetune: error: ") and len(err.splitlines()) == 1, err
        return err

    out = tmp_path / "out"
    assert "no such pairs file" in error("--model", pretrained, "--data", tmp_path / "missing.jsonl", "--out", out)
    (tmp_path / "empty_run").mkdir()
    assert "no model.safetensors and no complete checkpoint" in error(
        "--model", tmp_path / "empty_run", "--data", pairs, "--out", out)
    assert "no such run directory" in error("--model", tmp_path / "nowhere", "--data", pairs, "--out", out)
    assert "--model RUN_DIR" in error("--data", pairs, "--out", out)
    for i, bad in enumerate(['{"prompt": "a", "completion": ', '{"prompt": "a"}', '{"prompt": 1, "completion": "b"}',
                             '["a", "b"]', '{"prompt": "\\ud800", "completion": "b"}']):
        f = tmp_path / f"bad{i}.jsonl"
        f.write_text('{"prompt": "p", "completion": "c"}\n\n' + bad + "\n")
        assert f"{f}:3:" in error("--model", pretrained, "--data", f, "--out", out)
    assert not out.exists()  # nothing written before the inputs were checked
    # the installed command: exit code 2, one line, no traceback
    p = subprocess.run([BIN / "warble", "finetune", "--model", tmp_path / "empty_run", "--data", pairs, "--out", out],
                       capture_output=True, text=True, env=ENV, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "no complete checkpoint" in p.stderr
