"""Hugging Face interop: `warble export --format hf` loads in transformers with Warble's logits and greedy text,
`warble import` reads a transformers Llama, and `warble train --init-from` continues it on posts."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from warble.cli import main
from warble.errors import ConfigError, InputError
from warble.model import ModelConfig, Transformer, preset
from warble.model.hf import export_hf, import_hf
from warble.tokenizer import Tokenizer
from warble.train.checkpoint import save_safetensors
from warble.train.data import PackedLoader
from warble.train.finetune import load_pretrained

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

PROMPTS = ["just landed in", "coffee first, then the world. @user are you coming to the show tonight? http",
           "¿Dónde está la playa? 🏖️ #vacaciones", "a"]
ATOL = 1e-4


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def warble_model(run: Path) -> Transformer:
    mcfg, weights = load_pretrained(run)
    model = Transformer(mcfg)
    model.load_state_dict(weights())
    return model.eval()


def hf_model(path: Path):
    return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


@torch.no_grad()
def greedy(model: Transformer, ids: list[int], n: int, eos: int) -> list[int]:
    """Greedy continuation by full recomputation at each step, stopping after eos (as HF generate does)."""
    out = list(ids)
    for _ in range(n):
        nxt = int(model(torch.tensor([out]))[0, -1].argmax())
        out.append(nxt)
        if nxt == eos:
            break
    return out[len(ids):]


def enliven(model: Transformer, seed: int) -> Transformer:
    """Random weights far from the init (norm gains too), so a wrong mapping cannot hide in tiny logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (0.5 if "tok_emb" in name else 0.15))
    return model


def make_run(out: Path, tok_src: Path, seed: int = 0, **overrides) -> Path:
    """A Warble run directory by hand: random weights of the test preset, with the fixture run's tokenizer."""
    tok = Tokenizer.load(tok_src)
    mcfg = preset("test", vocab_size=tok.vocab_size, max_seq_len=128, **overrides)
    model = enliven(Transformer(mcfg), seed)
    out.mkdir(parents=True)
    save_safetensors(model.state_dict(), out / "model.safetensors", {})
    (out / "model.json").write_text(json.dumps(mcfg.__dict__))
    shutil.copytree(tok_src, out / "tokenizer")
    return out


def assert_same_logits(run: Path, hf_dir: Path, tok: Tokenizer) -> None:
    ours, theirs = warble_model(run), hf_model(hf_dir)
    with torch.no_grad():
        for text in PROMPTS:
            ids = torch.tensor([[tok.bos_id, *tok.encode(text)]])
            a, b = ours(ids), theirs(ids).logits
            assert a.shape == b.shape
            assert (a - b).abs().max() < ATOL, (text, (a - b).abs().max())


@pytest.fixture(scope="module")
def tok(run_dir) -> Tokenizer:
    return Tokenizer.load(run_dir / "tokenizer")


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "hf"
    export_hf(run_dir, out)
    return out


# ---------------------------------------------------------------------------------------------------- export
def test_export_writes_every_file(run_dir, exported, tok):
    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json"} <= names
    assert not list(exported.parent.glob(".hf.*")), "no temporary directory left beside the export"
    cfg = json.loads((exported / "config.json").read_text())
    mcfg = ModelConfig(**json.loads((run_dir / "model.json").read_text()))
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    assert cfg["rope_theta"] == cfg["rope_parameters"]["rope_theta"] == mcfg.rope_theta
    assert cfg["rope_parameters"]["rope_type"] == "default"
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
            cfg["head_dim"], cfg["intermediate_size"], cfg["max_position_embeddings"]) == (
        mcfg.d_model, mcfg.n_layers, mcfg.n_heads, mcfg.n_kv_heads, mcfg.head_dim, mcfg.ffn_dim, mcfg.max_seq_len)
    assert cfg["tie_word_embeddings"] is True and cfg["dtype"] == cfg["torch_dtype"] == "float32"
    assert (cfg["bos_token_id"], cfg["eos_token_id"], cfg["pad_token_id"]) == (tok.bos_id, tok.eos_id, tok.pad_id)
    weights = load_file(exported / "model.safetensors")
    assert "lm_head.weight" not in weights and "model.embed_tokens.weight" in weights  # tied
    assert all(t.dtype == torch.float32 for t in weights.values())
    gen = json.loads((exported / "generation_config.json").read_text())
    assert (gen["bos_token_id"], gen["eos_token_id"], gen["pad_token_id"]) == (tok.bos_id, tok.eos_id, tok.pad_id)
    tc = json.loads((exported / "tokenizer_config.json").read_text())
    assert tc["tokenizer_class"] == "PreTrainedTokenizerFast" and tc["add_bos_token"] is True
    assert tc["model_max_length"] == mcfg.max_seq_len


def test_exported_logits_equal_warble(run_dir, exported, tok):
    assert_same_logits(run_dir, exported, tok)


def test_padded_batches_equal_single_prompts(run_dir, exported, tok):
    """Right padding with an attention mask; left padding with positions from the mask (what generate does). Warble
    computes the same batch with the padding as a segment of its own (doc_ids) and per-row positions."""
    ours, theirs = warble_model(run_dir), hf_model(exported)
    seqs = [[tok.bos_id, *tok.encode(t)] for t in PROMPTS]
    T = max(map(len, seqs))
    with torch.no_grad():
        singles = [ours(torch.tensor([s]))[0] for s in seqs]
        for side in ("right", "left"):
            ids = torch.full((len(seqs), T), tok.pad_id)
            mask = torch.zeros(len(seqs), T, dtype=torch.long)
            for i, s in enumerate(seqs):
                sl = slice(0, len(s)) if side == "right" else slice(T - len(s), T)
                ids[i, sl], mask[i, sl] = torch.tensor(s), 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            hf = theirs(ids, attention_mask=mask, position_ids=positions).logits
            warble = ours(ids, doc_ids=mask.int(), positions=positions)
            for i, s in enumerate(seqs):
                sl = slice(0, len(s)) if side == "right" else slice(T - len(s), T)
                assert (hf[i, sl] - singles[i]).abs().max() < ATOL, (side, i)
                assert (warble[i, sl] - singles[i]).abs().max() < ATOL, (side, i)


@pytest.fixture(scope="module")
def lively(run_dir, tmp_path_factory) -> tuple[Path, Path]:
    """An untied run with random, far-from-init weights (greedy text that does not settle into one token), and
    its export."""
    root = tmp_path_factory.mktemp("lively")
    run = make_run(root / "run", run_dir / "tokenizer", seed=1, tie_embeddings=False)
    export_hf(run, root / "hf")
    return run, root / "hf"


@pytest.mark.parametrize("which", ["trained", "random"])
def test_greedy_generation_equals_warble(run_dir, exported, lively, tok, which):
    run, hf_dir = (run_dir, exported) if which == "trained" else lively
    ours, theirs = warble_model(run), hf_model(hf_dir)
    n = 12
    for text in PROMPTS[:3]:
        ids = [tok.bos_id, *tok.encode(text)]
        with torch.no_grad():  # generation_config.json: greedy, stopping at <|eos|>
            out = theirs.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                  do_sample=False, max_new_tokens=n)
        assert out[0, len(ids):].tolist() == greedy(ours, ids, n, tok.eos_id), text


def test_transformers_tokenizer_encodes_like_warble(exported, tok):
    for cls in (transformers.AutoTokenizer, transformers.PreTrainedTokenizerFast):
        hf = cls.from_pretrained(exported)
        assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (tok.bos_id, tok.eos_id, tok.pad_id)
        for text in [*PROMPTS, "typed <|eos|> in a post stays text", "<email> me at <phone>"]:
            ids = tok.encode(text)
            assert hf(text, add_special_tokens=False).input_ids == ids, text
            assert hf(text).input_ids == [tok.bos_id, *ids], text  # add_bos_token: the model's [bos] + text
            assert hf.decode([tok.bos_id, *ids], skip_special_tokens=True) == tok.decode([tok.bos_id, *ids])


def test_untied_and_qk_norm_models_export(run_dir, lively, tmp_path):
    untied, hf_untied = lively
    assert json.loads((hf_untied / "config.json").read_text())["tie_word_embeddings"] is False
    assert "lm_head.weight" in load_file(hf_untied / "model.safetensors")
    tok = Tokenizer.load(untied / "tokenizer")
    assert_same_logits(untied, hf_untied, tok)
    qk = make_run(tmp_path / "qk", run_dir / "tokenizer", seed=2, qk_norm=True)
    s = export_hf(qk, tmp_path / "hf_qk")
    cfg = json.loads((tmp_path / "hf_qk" / "config.json").read_text())
    assert s["architecture"] == cfg["architectures"][0] == "Qwen3ForCausalLM" and cfg["model_type"] == "qwen3"
    assert_same_logits(qk, tmp_path / "hf_qk", tok)
    import_hf(tmp_path / "hf_qk", tmp_path / "qk_back")  # and back, exactly
    a, b = load_file(qk / "model.safetensors"), load_file(tmp_path / "qk_back" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_bf16_export(run_dir, tmp_path):
    export_hf(run_dir, tmp_path / "bf16", dtype="bf16")
    cfg = json.loads((tmp_path / "bf16" / "config.json").read_text())
    assert cfg["dtype"] == cfg["torch_dtype"] == "bfloat16"
    assert all(t.dtype == torch.bfloat16 for t in load_file(tmp_path / "bf16" / "model.safetensors").values())
    m = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "bf16")
    assert m.dtype == torch.bfloat16
    import_hf(tmp_path / "bf16", tmp_path / "back")  # imported as fp32: the bf16 values, exactly
    a, b = load_file(run_dir / "model.safetensors"), load_file(tmp_path / "back" / "model.safetensors")
    assert all(torch.equal(a[k].to(torch.bfloat16).float(), b[k]) for k in a)


def test_export_refusals_leave_nothing(run_dir, tmp_path):
    with pytest.raises(ConfigError, match="fp32, bf16, fp16"):
        export_hf(run_dir, tmp_path / "x", dtype="int8")
    with pytest.raises(InputError, match="no such run directory"):
        export_hf(tmp_path / "missing", tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        export_hf(run_dir, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    big = make_run(tmp_path / "big", run_dir / "tokenizer")
    sd = load_file(big / "model.safetensors")
    sd["norm.weight"][0] = 1e5
    save_file(sd, big / "model.safetensors")
    with pytest.raises(ConfigError, match="fp16's range"):
        export_hf(big, tmp_path / "x", dtype="fp16")
    sd["norm.weight"][0] = float("nan")
    save_file(sd, big / "model.safetensors")
    with pytest.raises(InputError, match="NaN"):
        export_hf(big, tmp_path / "x")
    with pytest.raises(InputError, match="would replace the input"):
        export_hf(big, big, overwrite=True)
    assert (big / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "full"]  # no half-written export, no temp dirs
    export_hf(run_dir, tmp_path / "full", overwrite=True)
    assert (tmp_path / "full" / "config.json").is_file() and not (tmp_path / "full" / "keep.txt").exists()


# ---------------------------------------------------------------------------------------------------- import
@pytest.fixture(scope="module")
def hf_llama(tokens_dir, tmp_path_factory) -> Path:
    """A small, randomly initialised LlamaForCausalLM saved by transformers, with the token shards' vocabulary."""
    vocab = json.loads((tokens_dir / "meta.json").read_text())["vocab_size"]
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=96, rms_norm_eps=1e-5, initializer_range=0.1,
        rope_parameters={"rope_type": "default", "rope_theta": 50000.0}, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
    out = tmp_path_factory.mktemp("hf_llama") / "llama"
    model.save_pretrained(out)
    return out


def test_import_gives_transformers_logits(hf_llama, tmp_path):
    s = import_hf(hf_llama, tmp_path / "imp")
    assert s["architecture"] == "LlamaForCausalLM" and s["tokenizer"] is None
    mcfg = ModelConfig(**json.loads((tmp_path / "imp" / "model.json").read_text()))
    assert (mcfg.d_model, mcfg.n_layers, mcfg.n_heads, mcfg.n_kv_heads, mcfg.ffn_dim, mcfg.max_seq_len) == (
        64, 2, 4, 2, 160, 96)
    assert (mcfg.rope_theta, mcfg.norm_eps, mcfg.tie_embeddings, mcfg.qk_norm) == (50000.0, 1e-5, False, False)
    ours, theirs = warble_model(tmp_path / "imp"), hf_model(hf_llama)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for T in (1, 7, 40):
            ids = torch.randint(0, mcfg.vocab_size, (2, T), generator=g)
            assert (ours(ids) - theirs(ids).logits).abs().max() < ATOL, T


def test_import_then_train_continues_from_its_weights(hf_llama, tokens_dir, tmp_path, capsys):
    assert main(["import", str(hf_llama), "--out", str(tmp_path / "imp")]) == 0
    assert json.loads(capsys.readouterr().out)["architecture"] == "LlamaForCausalLM"
    flags = ["--data", str(tokens_dir), "--seq-len", "64", "--global-batch", "4", "--eval-every", "0",
             "--log-every", "1", "--threads", "1", "--warmup", "1"]
    assert main(["train", *flags, "--init-from", str(tmp_path / "imp"), "--steps", "3", "--out",
                 str(tmp_path / "cont")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "cont" / "metrics.jsonl").read_text().splitlines()]
    first = next(r["loss"] for r in rows if r.get("step") == 1)
    # The first step's loss is the imported weights' loss on the first batch (not a re-initialised model's).
    batch = next(PackedLoader(tokens_dir, "train", global_batch=4, seq_len=64, seed=0))
    with torch.no_grad():
        want = float(warble_model(tmp_path / "imp")(batch.tokens, targets=batch.targets, doc_ids=batch.doc_ids,
                                                    positions=batch.positions))
    assert abs(first - want) < 1e-5 * want, (first, want)
    cont = ModelConfig(**json.loads((tmp_path / "cont" / "model.json").read_text()))
    assert (cont.d_model, cont.ffn_dim, cont.max_seq_len, cont.tie_embeddings) == (64, 160, 96, False)
    assert (tmp_path / "cont" / "tokenizer" / "tokenizer.json").is_file()  # the shards' tokenizer
    # --resume alone takes the shape from the run's own checkpoint (no --preset, no --init-from needed)
    assert main(["train", *flags, "--steps", "5", "--resume", "--out", str(tmp_path / "cont")]) == 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "cont" / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 5


def test_import_keeps_a_foreign_tokenizer_aside(hf_llama, tmp_path):
    import tokenizers

    src = tmp_path / "hf"
    shutil.copytree(hf_llama, src)
    foreign = tokenizers.Tokenizer(tokenizers.models.WordLevel({"<unk>": 0, "hello": 1}, unk_token="<unk>"))
    foreign.save(str(src / "tokenizer.json"))
    s = import_hf(src, tmp_path / "imp")
    assert s["tokenizer"] == "foreign" and "hf_tokenizer/" in s["note"]
    assert (tmp_path / "imp" / "hf_tokenizer" / "tokenizer.json").is_file()
    assert not (tmp_path / "imp" / "tokenizer").exists()  # tokenizer/ always means a Warble tokenizer


def test_init_from_a_run_or_its_checkpoint_gives_the_same_start(run_dir, tokens_dir, tmp_path):
    from warble.train.config import TrainConfig
    from warble.train.loop import train

    base = {"data": str(tokens_dir), "seq_len": 64, "global_batch": 4, "steps": 1, "eval_every": 0, "log_every": 1,
            "threads": 1}
    ckpt = max((run_dir / "checkpoints").glob("step_*"))
    losses = []
    for i, (start, extra) in enumerate([(run_dir, {"preset": "test"}), (ckpt, {})]):
        train(TrainConfig(**base, init_from=str(start), **extra), tmp_path / f"r{i}")
        losses.append(json.loads((tmp_path / f"r{i}" / "metrics.jsonl").read_text().splitlines()[0])["loss"])
    assert losses[0] == losses[1]
    with pytest.raises(ConfigError, match="drop --preset"):
        train(TrainConfig(**base, init_from=str(run_dir), preset="tiny"), tmp_path / "r2")
    with pytest.raises(InputError, match="no such run directory or checkpoint"):
        train(TrainConfig(**base, init_from=str(tmp_path / "nowhere")), tmp_path / "r3")


def test_train_refuses_shards_beyond_the_model_vocab(run_dir, tokens_dir, tmp_path):
    from warble.train.config import TrainConfig
    from warble.train.loop import train

    small = tmp_path / "small"
    small.mkdir()
    mcfg = preset("test", vocab_size=256, max_seq_len=64)
    save_safetensors(Transformer(mcfg).state_dict(), small / "model.safetensors", {})
    (small / "model.json").write_text(json.dumps(mcfg.__dict__))
    with pytest.raises(InputError, match="vocabulary of .* only 256"):
        train(TrainConfig(data=str(tokens_dir), seq_len=64, global_batch=4, steps=1, init_from=str(small)),
              tmp_path / "r")


def test_round_trip_is_identical(run_dir, tmp_path):
    export_hf(run_dir, tmp_path / "hf", shard_bytes=100_000)  # sharded: model-0000i-of-0000n + index
    assert (tmp_path / "hf" / "model.safetensors.index.json").is_file()
    assert len(list((tmp_path / "hf").glob("model-*-of-*.safetensors"))) > 1
    s = import_hf(tmp_path / "hf", tmp_path / "back")
    assert s["tokenizer"] == "warble"
    a, b = load_file(run_dir / "model.safetensors"), load_file(tmp_path / "back" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "back" / "model.json").read_text()) == json.loads((run_dir / "model.json").read_text())
    assert Tokenizer.load(tmp_path / "back" / "tokenizer").sha256 == Tokenizer.load(run_dir / "tokenizer").sha256


def _edit_config(src: Path, dst: Path, **changes) -> Path:
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    for k, v in changes.items():
        if v is ...:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


@pytest.mark.parametrize("changes,msg", [
    ({"attention_bias": True}, "attention_bias"),
    ({"mlp_bias": True}, "mlp_bias"),
    ({"hidden_act": "gelu"}, "hidden_act"),
    ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "rope_scaling"),
    ({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}}, "rope_parameters"),
    ({"head_dim": 48}, "head_dim"),
    ({"architectures": ["GPT2LMHeadModel"]}, "architectures"),
    ({"architectures": ..., "model_type": "mistral"}, "model_type"),
    ({"sliding_window": 64}, "sliding_window"),
    ({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "use_sliding_window": True},
     "use_sliding_window"),
    ({"quantization_config": {"quant_method": "gptq"}}, "quantization_config"),
    ({"num_attention_heads": 5}, "num_attention_heads"),
    ({"hidden_size": "wide"}, "hidden_size"),
    ({"tie_word_embeddings": False}, "missing weights: lm_head.weight"),
    ({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3"}, "missing weights: .*q_norm"),
    ({"vocab_size": 4096}, "model.embed_tokens.weight has shape"),
])
def test_import_refuses_what_warble_cannot_represent(exported, tmp_path, changes, msg):
    src = _edit_config(exported, tmp_path / "hf", **changes)
    with pytest.raises(InputError, match=msg):
        import_hf(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_import_refuses_bad_weights_and_dirs(exported, tmp_path):
    def weights_variant(name, edit):
        d = tmp_path / name
        shutil.copytree(exported, d)
        sd = load_file(d / "model.safetensors")
        edit(sd)
        save_file(sd, d / "model.safetensors")
        return d

    extra = weights_variant("extra", lambda sd: sd.__setitem__("model.layers.0.self_attn.q_proj.bias",
                                                              torch.zeros(96)))
    with pytest.raises(InputError, match="model.layers.0.self_attn.q_proj.bias"):
        import_hf(extra, tmp_path / "o")
    missing = weights_variant("missing", lambda sd: sd.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(InputError, match="missing weights: model.layers.1.mlp.up_proj.weight"):
        import_hf(missing, tmp_path / "o")
    untied = weights_variant("untied", lambda sd: sd.__setitem__("lm_head.weight",
                                                                 sd["model.embed_tokens.weight"] + 1))
    with pytest.raises(InputError, match="lm_head.weight differs"):
        import_hf(untied, tmp_path / "o")
    same = weights_variant("same", lambda sd: sd.__setitem__("lm_head.weight", sd["model.embed_tokens.weight"]
                                                             .clone()))
    import_hf(same, tmp_path / "tied_ok")  # tied, with an equal lm_head saved: fine
    with pytest.raises(InputError, match="no such directory"):
        import_hf(tmp_path / "nowhere", tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        import_hf(tmp_path / "empty", tmp_path / "o")
    (tmp_path / "empty" / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        import_hf(tmp_path / "empty", tmp_path / "o")
    noweights = tmp_path / "noweights"
    noweights.mkdir()
    shutil.copy(exported / "config.json", noweights / "config.json")
    with pytest.raises(InputError, match="no weights"):
        import_hf(noweights, tmp_path / "o")
    with pytest.raises(InputError, match="not empty"):
        import_hf(exported, tmp_path / "same")
    assert not (tmp_path / "o").exists()


def test_cli_export_and_import(run_dir, tmp_path, capsys):
    assert main(["export", "--model", str(run_dir), "--format", "hf", "--dtype", "bf16", "--out",
                 str(tmp_path / "hf")]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["architecture"] == "LlamaForCausalLM" and s["dtype"] == "bf16" and "config.json" in s["files"]
    assert main(["import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["tokenizer"] == "warble" and s["source_dtype"] == ["bfloat16"]
    assert main(["import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 2  # exists
    assert main(["import", str(tmp_path / "hf"), "--out", str(tmp_path / "run"), "--overwrite"]) == 0


@pytest.mark.parametrize("argv,msg", [
    (["export", "--model", "{tmp}/missing", "--format", "hf", "--out", "{tmp}/hf"], "no such run directory"),
    (["import", "{tmp}/missing", "--out", "{tmp}/run"], "no such directory"),
    (["import", "{tmp}/notllama", "--out", "{tmp}/run"], "architectures ['GPT2LMHeadModel']"),
    (["train", "--data", "{tokens}", "--init-from", "{tmp}/missing", "--out", "{tmp}/r"], "no such run directory"),
])
def test_cli_errors_are_one_line(tmp_path, tokens_dir, capsys, argv, msg):
    (tmp_path / "notllama").mkdir()
    (tmp_path / "notllama" / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    assert main([a.format(tmp=tmp_path, tokens=tokens_dir) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err and msg in err and "Traceback" not in err, err
