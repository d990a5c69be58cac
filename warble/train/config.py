"""The training configuration: one dataclass, from flags and an optional TOML file, saved into the run dir."""

from __future__ import annotations

from dataclasses import dataclass, field

from warble.errors import ConfigError
from warble.train.optim import OptimConfig
from warble.train.schedule import ScheduleConfig

PARALLEL = ("auto", "none", "ddp", "fsdp")
DTYPES = ("fp32", "bf16")


@dataclass
class TrainConfig:
    data: str = ""  # token shards directory (warble tokenize)
    preset: str = ""  # model shape; "" = the --init-from model's, or "tiny" without init_from (loop.DEFAULT_PRESET)
    steps: int = 200  # total optimizer steps of the run (a resumed run continues up to this)
    global_batch: int = 8  # rows of seq_len tokens per optimizer step, over all processes
    micro_batch: int = 0  # rows per process per forward/backward; 0 = global_batch / world (no accumulation)
    seq_len: int = 256
    dtype: str = "fp32"  # bf16: autocast (single/DDP) or FSDP2 mixed precision; fp32 is bit-deterministic on CPU
    parallel: str = "auto"  # auto: ddp under torchrun, none otherwise
    shard_degree: int = 0  # fsdp: processes per shard group (0: all); fewer gives HSDP (shard within, replicate across)
    compile: bool = False
    activation_checkpointing: bool = False
    doc_mask: bool = True  # attention masked to each post; off to measure what the masking costs and buys
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"  # auto: cuda if available, else cpu
    threads: int = 0  # CPU threads per process (0: torch's default)
    log_every: int = 10
    eval_every: int = 100
    eval_batches: int = 20  # validation batches per evaluation (0: the whole validation split)
    ckpt_every: int = 100
    keep_checkpoints: int = 2
    init_from: str | None = None  # starting weights and shape: a run dir with model.safetensors + model.json (a
    # finished run, `warble import`) or a DCP checkpoint (loop.starting_weights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def validate(self, world: int, launched: bool = False) -> None:
        """Check against the job: `world` processes, `launched` by torchrun (or not)."""
        if not self.data:
            raise ConfigError("--data TOKENS_DIR is required")
        if self.parallel in ("ddp", "fsdp") and not launched:
            raise ConfigError(f"--parallel {self.parallel} runs under torchrun: torchrun --nproc_per_node N -m warble "
                              "train ...")
        if self.parallel == "none" and world > 1:
            raise ConfigError(f"--parallel none under torchrun would train {world} unrelated copies; use ddp or fsdp")
        if self.micro_batch < 0:
            raise ConfigError("--micro-batch must be >= 1 (0: no accumulation)")
        if self.steps < 1 or self.global_batch < 1 or self.seq_len < 2:
            raise ConfigError("steps, global_batch must be >= 1 and seq_len >= 2")
        if self.parallel not in PARALLEL:
            raise ConfigError(f"--parallel must be one of {', '.join(PARALLEL)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}")
        if self.shard_degree < 0 or (self.shard_degree and world % self.shard_degree):
            raise ConfigError(f"shard degree {self.shard_degree} does not divide {world} processes")
        if self.global_batch % world:
            raise ConfigError(f"global batch {self.global_batch} is not divisible by {world} processes")
        micro = self.micro_batch or self.global_batch // world
        if (self.global_batch // world) % micro:
            raise ConfigError(f"per-process batch {self.global_batch // world} is not a multiple of the micro "
                              f"batch {micro}")
        for name in ("log_every", "eval_every", "ckpt_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (0: never)")

    def accumulation(self, world: int) -> int:
        return (self.global_batch // world) // (self.micro_batch or self.global_batch // world)
