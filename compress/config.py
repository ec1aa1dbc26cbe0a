"""Typed configuration of `tlc-compress` (the schemas of `conf/compress.yaml` and
`conf/compression/*.yaml`), and `check(cfg)`: one line per bad value. The checks that need the
source run live in `compress.source`. Must not import fairseq, wandb or torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from train_large.config import Choice, Device, LoggerConfig, PathsConfig, folder_name_problems, seed_problems
from train_large.config import register_configs as register_train_configs

Method = Choice("Method", "none prune quantize prune_quantize")
PRUNING_METHODS = ("prune", "prune_quantize")
QUANTIZING_METHODS = ("quantize", "prune_quantize")
Scope = Choice("Scope", "global layer")
PruningSchedule = Choice("PruningSchedule", "one_shot iterative")
# "per_channel" / "per_tensor" are accepted as spelled in the issue and mean the same thing.
Granularity = Choice("Granularity", "channel tensor per_channel per_tensor")
MIN_BITS, MAX_BITS = 2, 16  # symmetric k-bit codes (compress.quantize); 1 bit leaves only zero
FP32_BITS = 32  # bits=32: weights not quantized (kept at the source's precision), the quantize sweep's baseline


@dataclass
class CompressionConfig:
    method: Method = Method.none  # none | prune | quantize | prune_quantize
    sparsity: float = 0.0  # fraction of targeted weights set to zero, in [0, 1)
    scope: Scope = Scope["global"]  # global: one magnitude threshold over all targets | layer: each tensor to sparsity
    attention: bool = True  # targets: attention q/k/v/out projections
    ffn: bool = True  # targets: feed-forward fc1/fc2
    embeddings: bool = False  # targets: token and learned position embeddings (tied output included)
    output: bool = False  # targets: output projection, LM or classification head
    schedule: PruningSchedule = PruningSchedule.one_shot  # one_shot | iterative (cubic rise over `steps` rounds)
    steps: int = 5  # pruning rounds when iterative
    finetune_seconds: float = 0.0  # training seconds of fine-tuning after each pruning round, and of QAT
    bits: Optional[int] = None  # weight bits 2..16; 32 or null = not quantized (the source's precision)
    granularity: Granularity = Granularity.channel  # channel: one scale per output row | tensor: one scale per tensor
    qat: bool = False  # quantization-aware fine-tuning (fake quant, straight-through) before rounding
    activations: bool = False  # QAT only: also fake-quantize the inputs of targeted Linears
    activation_bits: int = 8  # bits of those inputs (per tensor, scale learned during QAT)
    ratio: Optional[float] = None  # target fp32 bytes / bytes; when set it picks sparsity and/or bits
    sparse_format: bool = True  # count a sparse tensor in the cheapest of dense, bitmask and CSR


@dataclass
class EvaluationConfig:
    test: bool = True  # also score the test split (all of it, final decoding settings) when there is one
    bleu_sentences: Optional[int] = None  # valid sentences decoded for BLEU; null = the source run's setting


@dataclass
class CompressConfig:
    source: str = MISSING  # a finished tlc-train run directory (its best checkpoint is compressed)
    compression: CompressionConfig = field(default_factory=CompressionConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    experiment: str = "compress"  # folder under runs_root and W&B group
    seed: int = 1  # fine-tuning data order and dropout
    device: Device = Device.auto  # auto = cuda when available, else cpu


def register_configs() -> None:
    register_train_configs()  # resolvers (run_name) and the logger schema shared with tlc-train
    store = ConfigStore.instance()
    if "compress_schema.yaml" in store.repo:  # stored once a process, as tlc-train's
        return
    store.store(name="compress_schema", node=CompressConfig)
    store.store(group="compression", name="compression_schema", node=CompressionConfig)


def granularity(value: str) -> str:
    """The granularity compress.quantize understands ("per_channel" -> "channel")."""
    return value.removeprefix("per_")


def quantizes(bits: Optional[int]) -> bool:
    """Whether `bits` asks for quantized weights (null and 32 keep the source's precision)."""
    return bits is not None and bits != FP32_BITS


def check(cfg: Any) -> list[str]:
    """Every problem with a composed compress config's values, one line each; [] when usable."""
    c = cfg.compression
    problems = folder_name_problems("experiment", cfg.experiment)
    problems += seed_problems(cfg.seed)
    if not 0.0 <= c.sparsity < 1.0:
        problems.append(f"compression.sparsity={c.sparsity} must be in [0, 1) (fraction of targeted weights "
                        "set to zero)")
    for key, bits in (("compression.bits", c.bits), ("compression.activation_bits", c.activation_bits)):
        if quantizes(bits) and not MIN_BITS <= bits <= MAX_BITS:
            problems.append(f"{key}={bits} must be in {MIN_BITS}..{MAX_BITS} (or 32 for fp32); 1 bit leaves no "
                            "symmetric level but zero")
    if c.steps < 1:
        problems.append(f"compression.steps={c.steps} must be >= 1 (pruning rounds)")
    if c.finetune_seconds < 0:
        problems.append(f"compression.finetune_seconds={c.finetune_seconds} must be >= 0")
    if c.ratio is not None and not c.ratio > 0:
        problems.append(f"compression.ratio={c.ratio} must be > 0 (fp32 bytes / compressed bytes)")
    if cfg.evaluation.bleu_sentences is not None and cfg.evaluation.bleu_sentences < 0:
        problems.append(f"evaluation.bleu_sentences={cfg.evaluation.bleu_sentences} must be >= 0 (0 = all)")
    return problems or _method_problems(c)


def _method_problems(c: Any) -> list[str]:
    """Settings the chosen method would silently ignore, or lacks; asked only of values fine on
    their own, so one bad value gives one line."""
    prunes, quantizes_ = c.method in PRUNING_METHODS, c.method in QUANTIZING_METHODS
    problems = []
    if c.method == "none" and c.ratio is not None:
        problems.append("compression.ratio needs a method that compresses; use compression=prune, quantize "
                        "or prune_quantize")
    if not prunes and c.sparsity > 0:
        problems.append(f"compression.sparsity={c.sparsity} but compression.method={c.method} does not prune; "
                        "use compression=prune or prune_quantize")
    if not prunes and c.schedule == "iterative":
        problems.append(f"compression.schedule=iterative but compression.method={c.method} does not prune")
    if not quantizes_ and quantizes(c.bits):
        problems.append(f"compression.bits={c.bits} but compression.method={c.method} does not quantize; "
                        "use compression=quantize or prune_quantize")
    if quantizes_ and c.bits is None and c.ratio is None:
        problems.append(f"compression.method={c.method} needs compression.bits ({MIN_BITS}..{MAX_BITS}) or "
                        "compression.ratio")
    if c.schedule == "iterative" and prunes and not c.finetune_seconds > 0:
        problems.append("compression.schedule=iterative needs compression.finetune_seconds > 0 (without "
                        "fine-tuning between rounds it prunes exactly as one_shot)")
    if c.qat and not (quantizes_ and (quantizes(c.bits) or c.ratio is not None)):
        problems.append("compression.qat=true needs quantized weights: compression=quantize or prune_quantize "
                        "with compression.bits below 32")
    elif c.qat and not c.finetune_seconds > 0:
        problems.append("compression.qat=true needs compression.finetune_seconds > 0 (the QAT budget)")
    if c.activations and not c.qat:
        problems.append("compression.activations=true needs compression.qat=true (activation scales are "
                        "learned during quantization-aware fine-tuning)")
    return problems
