import copy
import io
import math

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from warble.errors import ConfigError
from warble.train.optim import OptimConfig, build_optimizer, zeropower_via_newtonschulz5
from warble.train.schedule import ScheduleConfig, build_scheduler, lr_factor

torch.set_num_threads(1)

VOCAB, D = 32, 16


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.RMSNorm(D)
        self.up = nn.Linear(D, 4 * D)
        self.down = nn.Linear(4 * D, D, bias=False)

    def forward(self, h):
        return h + self.down(F.silu(self.up(self.norm(h))))


class Tiny(nn.Module):
    """Transformer-shaped stand-in: embedding, residual blocks, final norm, lm_head (optionally tied)."""

    def __init__(self, tied=True):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, D)
        self.layers = nn.ModuleList([Block(), Block()])
        self.norm = nn.RMSNorm(D)
        self.lm_head = nn.Linear(D, VOCAB, bias=False)
        if tied:
            self.lm_head.weight = self.tok_emb.weight

    def forward(self, x, y):
        h = self.tok_emb(x)
        for block in self.layers:
            h = block(h)
        return F.cross_entropy(self.lm_head(self.norm(h)).flatten(0, 1), y.flatten())


def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, VOCAB, (8, 12), generator=g)
    return x, (3 * x + 1) % VOCAB  # learnable per-token mapping


def ids(params):
    return {id(p) for p in params}


def train(model, opt, steps, sched=None):
    x, y = batch()
    losses = []
    for _ in range(steps):
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    return losses


def test_adamw_groups_decay_only_linear_weights_and_tied_param_once():
    model = Tiny(tied=True)
    opt = build_optimizer(model, OptimConfig(), "cpu")
    decay, no_decay = opt.param_groups
    linear = {id(m.weight) for m in model.layers.modules() if isinstance(m, nn.Linear)}
    assert ids(decay["params"]) == linear and decay["weight_decay"] == 0.1
    assert no_decay["weight_decay"] == 0.0 and id(model.tok_emb.weight) in ids(no_decay["params"])
    everything = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(everything) == len(set(everything)) == len(list(model.parameters()))  # tied weight once
    assert opt.defaults["foreach"] and not opt.defaults["fused"]

    untied = Tiny(tied=False)
    decay, _ = build_optimizer(untied, OptimConfig(), "cpu").param_groups
    assert id(untied.lm_head.weight) in ids(decay["params"])  # a linear layer: decayed under AdamW


def test_muon_groups():
    model = Tiny(tied=False)
    opt = build_optimizer(model, OptimConfig(name="muon"), "cpu")
    muon, out, rest = opt.param_groups
    assert muon["use_muon"] and muon["lr"] == 0.02
    assert ids(muon["params"]) == {id(m.weight) for m in model.layers.modules() if isinstance(m, nn.Linear)}
    assert not out["use_muon"] and ids(out["params"]) == {id(model.lm_head.weight)} and out["weight_decay"] == 0.1
    assert not rest["use_muon"] and rest["weight_decay"] == 0.0 and id(model.tok_emb.weight) in ids(rest["params"])
    assert all(p.ndim == 1 for p in rest["params"] if p is not model.tok_emb.weight)

    tied = Tiny(tied=True)
    groups = build_optimizer(tied, OptimConfig(name="muon"), "cpu").param_groups
    assert len(groups) == 2  # no separate output group: the tied weight is the embedding, on AdamW without decay
    assert id(tied.tok_emb.weight) in ids(groups[1]["params"])


@pytest.mark.parametrize("shape", [(32, 64), (96, 48), (128, 16)])
def test_newton_schulz_is_near_orthogonal(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    x = zeropower_via_newtonschulz5(g, 5)
    assert x.shape == g.shape and x.dtype == torch.float32
    s = torch.linalg.svdvals(x)
    assert s.min() > 0.5 and s.max() < 1.5, s


@pytest.mark.parametrize("name", ["adamw", "muon"])
def test_optimizer_reduces_loss(name):
    torch.manual_seed(0)
    model = Tiny(tied=False)
    losses = train(model, build_optimizer(model, OptimConfig(name=name), "cpu"), 30)
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("name", ["adamw", "muon"])
def test_resume_is_bit_exact(name):
    def make():
        torch.manual_seed(0)
        model = Tiny(tied=True)
        opt = build_optimizer(model, OptimConfig(name=name), "cpu")
        return model, opt, build_scheduler(opt, 6, ScheduleConfig(warmup_steps=2))

    straight, opt, sched = make()
    train(straight, opt, 6, sched)

    model, opt, sched = make()
    train(model, opt, 3, sched)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    resumed, opt, sched = make()
    resumed.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["opt"])
    sched.load_state_dict(ckpt["sched"])
    train(resumed, opt, 3, sched)

    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_muon_fsdp2_matches_plain_tensors():
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    sharded, init = copy.deepcopy(plain), copy.deepcopy(plain)
    x = torch.randn(5, 8)
    cfg = OptimConfig(name="muon")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        mesh = init_device_mesh("cpu", (1,))
        for m in (sharded[0], sharded[2], sharded):
            fully_shard(m, mesh=mesh)
        assert all(isinstance(p, DTensor) for p in sharded.parameters())
        for model in (plain, sharded):
            opt = build_optimizer(model, cfg, "cpu", output_names=())
            assert [g["use_muon"] for g in opt.param_groups] == [True, False]  # weights on Muon, biases on AdamW
            for _ in range(3):
                opt.zero_grad()
                model(x).square().mean().backward()
                opt.step()
        for a, b, a0 in zip(plain.parameters(), sharded.parameters(), init.parameters()):
            assert not torch.equal(a, a0)
            torch.testing.assert_close(b.full_tensor(), a, rtol=0, atol=1e-6)
    finally:
        dist.destroy_process_group()


def test_config_errors():
    with pytest.raises(ConfigError):
        OptimConfig(name="sgd")
    with pytest.raises(ConfigError):
        ScheduleConfig(kind="linear")
    with pytest.raises(ConfigError):
        lr_factor(0, 0, ScheduleConfig())
    with pytest.raises(ConfigError):
        build_scheduler(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), 0, ScheduleConfig())


def test_warmup_endpoints():
    cfg = ScheduleConfig(warmup_steps=10)
    assert lr_factor(0, 100, cfg) == pytest.approx(0.1)
    assert lr_factor(9, 100, cfg) == 1.0
    assert lr_factor(10, 100, cfg) < 1.0
    frac = ScheduleConfig(warmup_steps=0.1)  # 10% of 200 = 20 steps
    assert lr_factor(0, 200, frac) == pytest.approx(1 / 20) and lr_factor(19, 200, frac) == 1.0
    assert lr_factor(0, 100, ScheduleConfig(kind="constant", warmup_steps=0)) == 1.0
    # warmup longer than the run: clipped, ramps up to 1 at the last step
    long = [lr_factor(s, 5, ScheduleConfig(warmup_steps=100)) for s in range(5)]
    assert long == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_cosine_midpoint_and_end():
    cfg = ScheduleConfig(kind="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(59, 110, cfg) == pytest.approx(0.55)  # halfway through the 100 decay steps
    assert lr_factor(109, 110, cfg) == pytest.approx(0.1)
    assert lr_factor(500, 110, cfg) == pytest.approx(0.1)
    values = [lr_factor(s, 110, cfg) for s in range(9, 110)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_wsd_and_constant():
    cfg = ScheduleConfig(kind="wsd", warmup_steps=10, decay_fraction=0.2, min_lr_ratio=0.1)
    assert all(lr_factor(s, 100, cfg) == 1.0 for s in range(9, 80))  # stable phase
    assert 0.1 < lr_factor(80, 100, cfg) < 1.0
    assert lr_factor(89, 100, cfg) == pytest.approx(0.55)  # linear: halfway through the 20 decay steps
    assert lr_factor(99, 100, cfg) == pytest.approx(0.1)
    sqrt = ScheduleConfig(kind="wsd", warmup_steps=10, decay_shape="sqrt", min_lr_ratio=0.1)
    assert lr_factor(89, 100, sqrt) == pytest.approx(0.1 + 0.9 * (1 - math.sqrt(0.5)))
    assert lr_factor(99, 100, sqrt) == pytest.approx(0.1)
    const = ScheduleConfig(kind="constant", warmup_steps=4)
    assert lr_factor(1, 100, const) == 0.5 and lr_factor(99, 100, const) == 1.0


def test_lambdalr_resume():
    def make():
        params = [nn.Parameter(torch.zeros(2, 2)), nn.Parameter(torch.zeros(2))]
        opt = torch.optim.SGD([{"params": params[:1], "lr": 0.02}, {"params": params[1:], "lr": 3e-3}])
        return opt, build_scheduler(opt, 50, ScheduleConfig(warmup_steps=5))

    opt, sched = make()
    lrs = []
    for _ in range(20):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    opt2, sched2 = make()
    for _ in range(7):
        opt2.step()
        sched2.step()
    state = sched2.state_dict()
    opt3, sched3 = make()
    sched3.load_state_dict(state)
    resumed = []
    for _ in range(13):
        opt3.step()
        sched3.step()
        resumed.append([g["lr"] for g in opt3.param_groups])
    assert resumed == lrs[7:]
    assert lrs[-1][0] / lrs[-1][1] == pytest.approx(0.02 / 3e-3)  # each group keeps its own base lr
