"""Typed configuration: the schemas of every config group, and `check(cfg)` at the door.

`conf/` holds values; these dataclasses hold types, so a misspelt key or a value outside a `Choice`
fails when Hydra composes. `check` then returns one line per bad value, before any data or model
is built. Must not import fairseq, torch or wandb.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .run_names import run_name


class Choice(str, Enum):
    """A setting with a fixed set of values, which OmegaConf enforces; a member reads as its plain
    string (f"{x}", ==, json.dumps, dict keys). OmegaConf converts `key=value` by member name, so names
    are the values: `Choice("Decay", "linear cosine")` (StrEnum's rule; Python 3.10 has no StrEnum)."""

    def _generate_next_value_(name: str, start: int, count: int, last_values: list) -> str:  # type: ignore[override]
        return name

    def __str__(self) -> str:  # f-strings and format() use it too
        return str(self.value)


TaskKind = Choice("TaskKind", "translation masked_lm classification")
Arch = Choice("Arch", "transformer roberta")
# The architecture each task kind trains: fairseq's encoder-decoder, or the RoBERTa encoder.
ARCH_FOR_KIND = {"translation": "transformer", "masked_lm": "roberta", "classification": "roberta"}
Norm = Choice("Norm", "pre post")
# budget: warmup and decay over training seconds (train_large.schedule); the others: fairseq's, on updates
Schedule = Choice("Schedule", "inverse_sqrt fixed polynomial_decay budget")
Decay = Choice("Decay", "linear cosine")  # the budget schedule's decay to zero
Device = Choice("Device", "auto cpu cuda")
Precision = Choice("Precision", "auto fp32 fp16 bf16")
WandbMode = Choice("WandbMode", "auto online offline disabled")


@dataclass
class EvalConfig:
    bleu_sentences: int = 200  # valid sentences beam-decoded for BLEU at each eval; 0 = all
    beam: int = 4  # beam size for BLEU during training
    lenpen: float = 0.6  # length penalty during training
    test_beam: int = 4  # beam size for the final test BLEU (paper: 4)
    test_lenpen: float = 0.6  # length penalty for the final test BLEU (paper: 0.6)
    test_sentences: int = 0  # test sentences decoded for the final BLEU; 0 = all (the paper's setting)
    max_len_a: float = 1.2  # max output length = a * source length + b (tokens)
    max_len_b: int = 10
    max_tokens: int = 8000  # tokens per validation / decoding batch
    # null, or a sacrebleu --tokenize choice (intl, char, ...) also scored beside 13a, as bleu_<name>
    extra_bleu_tokenize: Optional[str] = None


@dataclass
class TaskConfig:
    name: str = MISSING  # preset name: toy_mt, wmt14_en_fr, ...
    kind: TaskKind = TaskKind.translation  # translation | masked_lm | classification
    data_dir: str = MISSING  # prepared dataset (prepared.json inside)
    source_lang: str = "en"
    target_lang: str = "fr"
    generated: bool = False  # True: the project generates this dataset on first use (toy tasks)
    prepare_hint: str = ""  # the command that prepares data_dir, shown when it is missing
    vocab_size: int = 8000  # sentencepiece vocabulary when the project prepares the data
    vocab_from: Optional[str] = None  # classification: the prepared pretraining corpus whose
    #   sentencepiece model and dictionary encode this task (a fine-tuned model must share them)
    tokens_per_sample: int = 128  # masked_lm: tokens per training sequence (paper setup: 128)
    mask_prob: float = 0.15  # masked_lm: share of tokens masked (RoBERTa: 0.15)
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass
class ModelConfig:
    arch: Arch = Arch.transformer  # transformer | roberta (task.kind decides: ARCH_FOR_KIND)
    width: int = 512  # d_model
    depth: int = 6  # encoder layers (and decoder layers unless decoder_depth is set)
    decoder_depth: int = "${.depth}"  # type: ignore[assignment]
    heads: int = "${heads_for:${.width}}"  # type: ignore[assignment]  # one per 64 dims, min 1
    ffn: int = "${times:4,${.width}}"  # type: ignore[assignment]  # FFN inner size
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    norm: Norm = Norm.post  # post (Vaswani) or pre (RoBERTa / stable deep models)
    share_embeddings: bool = True  # joint source/target/output embeddings (joint dictionary)
    max_positions: int = 512  # roberta: learned positions (>= task.tokens_per_sample)


@dataclass
class OptimConfig:
    lr: float = 5e-4  # peak learning rate
    schedule: Schedule = Schedule.inverse_sqrt  # inverse_sqrt | fixed | polynomial_decay | budget
    warmup_updates: int = 4000  # update-count schedules only
    warmup_fraction: float = 0.05  # schedule=budget: share of the budget spent warming up, in [0, 1)
    decay: Decay = Decay.linear  # schedule=budget: linear | cosine, to zero at the end of the budget
    betas: List[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = 0.0
    max_tokens: Optional[int] = 4096  # tokens per batch per device (before update_freq)
    batch_size: Optional[int] = None  # sequences per update (all devices, all accumulation steps);
    #   None = batches limited by max_tokens only
    device_batch_size: Optional[int] = None  # sequences that fit in one forward on one device;
    #   None = batch_size. A batch_size above it is reached by gradient accumulation.
    update_freq: Optional[int] = None  # accumulation steps; None = derived from the two above (or 1)
    clip_norm: float = 0.0  # 0 = no clipping
    label_smoothing: float = 0.1


@dataclass
class BudgetConfig:
    train_seconds: float = 3600.0  # training-clock seconds (update time only; eval excluded)
    eval_every_seconds: float = 600.0  # training seconds between validations
    checkpoint_every_seconds: float = 600.0  # training seconds between checkpoints
    log_every_seconds: float = 30.0  # training seconds between train-loss records
    max_updates: Optional[int] = None  # optional cap on updates, whichever comes first


@dataclass
class LoggerConfig:
    wandb: bool = True  # False: local records only
    project: str = "train-large-then-compress"
    entity: Optional[str] = None
    mode: WandbMode = WandbMode.auto  # online | offline | disabled | auto: online iff WANDB_API_KEY is set
    tags: List[str] = field(default_factory=list)


@dataclass
class PathsConfig:
    data_root: str = "${oc.env:TLC_DATA_ROOT,data}"  # where datasets live
    runs_root: str = "${oc.env:TLC_RUNS_ROOT,runs}"  # where run directories live


@dataclass
class TrainConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    experiment: str = "default"  # groups runs: folder under runs_root and W&B group
    seed: int = 1
    device: Device = Device.auto  # cpu | cuda | auto = cuda when available, else cpu
    precision: Precision = Precision.auto  # fp32 | fp16 | bf16 | auto: bf16 on CUDA (fp16 without bf16), fp32 on CPU
    num_workers: Optional[int] = None  # data loader worker processes; null = 1 on CPU, up to 8 per GPU
    compile: bool = False  # torch.compile each encoder layer (fuses its elementwise work; compiles in the first updates)
    init_from: Optional[str] = None  # a pretraining run dir: fine-tune from its best (else last) checkpoint
    world_size: Optional[int] = None  # data-parallel processes; null = every visible GPU (1 on CPU)


_RESOLVERS = {
    "heads_for": lambda width: max(1, int(width) // 64),
    "times": lambda a, b: int(a) * int(b),
    "div": lambda a, b: float(a) / float(b),
    "min": lambda a, b: min(float(a), float(b)),
    "run_name": run_name,  # names run directories (conf/*.yaml)
    # lr for a batch size, scaled by sqrt(batch / base batch) from a base lr (batch-size sweep)
    "sqrt_scaled": lambda base_lr, base_batch, batch: float(base_lr) * (float(batch) / float(base_batch)) ** 0.5,
}


def register_configs() -> None:
    """Registers the schemas and the resolvers behind the derived defaults (idempotent)."""
    for name, resolver in _RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
    store = ConfigStore.instance()
    if "train_schema.yaml" in store.repo:  # stored once a process: each store rebuilds the schema
        return
    store.store(name="train_schema", node=TrainConfig)
    for group, node in [("task", TaskConfig), ("model", ModelConfig), ("optim", OptimConfig),
                        ("budget", BudgetConfig), ("logger", LoggerConfig)]:
        store.store(group=group, name=f"{group}_schema", node=node)


@dataclass(frozen=True)
class BatchPlan:
    """One update's batch: per-device batches times accumulation steps times devices."""

    device_batch_size: Optional[int]  # sequences per forward on one device; None = token-limited
    update_freq: int  # batches accumulated per update
    world_size: int  # data-parallel devices
    max_tokens: Optional[int]  # tokens per forward on one device; None = sequence-limited

    @property
    def sequences(self) -> Optional[int]:  # the effective batch size
        return None if self.device_batch_size is None else self.device_batch_size * self.update_freq * self.world_size

    @property
    def tokens(self) -> Optional[int]:  # the most tokens one update can hold
        return None if self.max_tokens is None else self.max_tokens * self.update_freq * self.world_size


def batch_plan(optim: Any, world_size: int = 1) -> BatchPlan:
    """Per-device batch and accumulation that reach `optim.batch_size` sequences per update: with
    update_freq unset, the fewest accumulation steps whose per-device batch fits `device_batch_size`,
    the batch spread evenly (100 sequences at 32 per device run as 4 x 25)."""
    wanted, fits = optim.batch_size, optim.device_batch_size
    if wanted is None:
        return BatchPlan(fits, optim.update_freq or 1, world_size, optim.max_tokens)
    fits = fits or wanted
    update_freq = optim.update_freq or -(-wanted // (fits * world_size))
    device_batch = -(-wanted // (update_freq * world_size))
    return BatchPlan(device_batch, update_freq, world_size, optim.max_tokens)


def one_of(key: str, value: Any, allowed: Iterable) -> list[str]:
    """The line for a value outside a fixed list; the pre-flight gives a Choice field's the same."""
    choices = ", ".join(map(str, allowed))
    return [] if value in allowed else [f"{key}={value!r} is not allowed; choose one of: {choices}"]


def _positive(key: str, value: Any, *, allow_zero: bool = False) -> list[str]:
    if value is None or value > 0 or (allow_zero and value == 0):
        return []
    return [f"{key}={value} must be {'>= 0' if allow_zero else '> 0'}"]


def folder_name_problems(key: str, value: str) -> list[str]:
    """A setting that names one folder under runs_root (and the W&B group): a separator would nest it."""
    if value and value not in (".", "..") and "/" not in value and "\\" not in value:
        return []
    return [f"{key}={value!r} must be a folder name: not empty, no '/' (it names runs_root/<{key}>)"]


def check(cfg: Any, *, cuda_available: bool) -> list[str]:
    """Every problem with a resolved training config, one line each; [] when it is usable. Values only:
    `train_large.data.ensure_dataset` checks the data. (OmegaConf has checked each Choice's value.)"""
    t, m, o = cfg.task, cfg.model, cfg.optim
    problems = []
    if m.arch != ARCH_FOR_KIND[t.kind]:
        problems.append(f"model.arch={m.arch} cannot train task.kind={t.kind}; use model={ARCH_FOR_KIND[t.kind]}")
    if t.eval.extra_bleu_tokenize is not None:
        from .evaluate import TOKENIZERS  # sacrebleu's own list; imported only when the key is set

        problems += one_of("task.eval.extra_bleu_tokenize", t.eval.extra_bleu_tokenize, TOKENIZERS)
    problems += folder_name_problems("experiment", cfg.experiment) + _range_problems(cfg)
    if m.width > 0 and m.heads > 0 and m.width % m.heads:
        problems.append(f"model.width={m.width} is not divisible by model.heads={m.heads}; "
                        f"choose heads that divide the width (default: width/64)")
    if o.max_tokens is None and o.batch_size is None and o.device_batch_size is None:
        problems.append("optim.max_tokens and optim.batch_size are both null; set at least one")
    problems += _batch_problems(o)
    if t.kind == "masked_lm":
        if not 0.0 < t.mask_prob < 1.0:
            problems.append(f"task.mask_prob={t.mask_prob} must be in (0, 1) (RoBERTa: 0.15)")
        if 0 < m.max_positions < t.tokens_per_sample:
            problems.append(f"task.tokens_per_sample={t.tokens_per_sample} exceeds model.max_positions="
                            f"{m.max_positions}; raise model.max_positions or shorten the samples")
    if o.schedule == "polynomial_decay" and cfg.budget.max_updates is None:
        problems.append("optim.schedule=polynomial_decay needs budget.max_updates (the decay length); "
                        "use inverse_sqrt or fixed for a pure time budget")
    if t.kind == "translation" and t.source_lang == t.target_lang:
        problems.append(f"task.target_lang={t.target_lang!r} equals task.source_lang; they must differ")
    if resolve_device(cfg.device, cuda_available) == "cpu" and cfg.precision in ("fp16", "bf16"):
        problems.append(f"precision={cfg.precision} needs a CUDA device but device={cfg.device} resolves "
                        f"to cpu here; use precision=fp32 on CPU")
    if cfg.device == "cuda" and not cuda_available:
        problems.append("device=cuda but no CUDA device is visible; use device=auto or device=cpu")
    return problems


def _range_problems(cfg: Any) -> list[str]:
    """Numbers outside the range that means something (sizes > 0, rates in [0, 1), ...)."""
    t, m, o, b = cfg.task, cfg.model, cfg.optim, cfg.budget
    # Derived values (decoder depth, FFN size, intervals) are only checked when they differ
    # from what their source derives, so one bad value gives one line.
    derived = [("model.decoder_depth", m.decoder_depth)] if m.decoder_depth != m.depth else []
    if m.width > 0 or m.ffn != 4 * m.width:
        derived.append(("model.ffn", m.ffn))
    if b.train_seconds > 0:
        derived += [("budget.eval_every_seconds", b.eval_every_seconds),
                    ("budget.checkpoint_every_seconds", b.checkpoint_every_seconds),
                    ("budget.log_every_seconds", b.log_every_seconds)]
    problems: list[str] = []
    for key, value in [("model.width", m.width), ("model.depth", m.depth), *derived, ("model.heads", m.heads),
                       ("optim.lr", o.lr), ("optim.max_tokens", o.max_tokens), ("optim.batch_size", o.batch_size),
                       ("optim.device_batch_size", o.device_batch_size), ("world_size", cfg.world_size),
                       ("task.tokens_per_sample", t.tokens_per_sample), ("model.max_positions", m.max_positions),
                       ("budget.train_seconds", b.train_seconds), ("budget.max_updates", b.max_updates),
                       ("task.eval.beam", t.eval.beam), ("task.eval.test_beam", t.eval.test_beam),
                       ("task.eval.max_tokens", t.eval.max_tokens), ("task.vocab_size", t.vocab_size)]:
        problems += _positive(key, value)
    for key, value in [("task.eval.bleu_sentences", t.eval.bleu_sentences),
                       ("task.eval.test_sentences", t.eval.test_sentences), ("optim.clip_norm", o.clip_norm),
                       ("optim.weight_decay", o.weight_decay), ("task.eval.max_len_a", t.eval.max_len_a),
                       ("task.eval.max_len_b", t.eval.max_len_b), ("num_workers", cfg.num_workers)]:
        problems += _positive(key, value, allow_zero=True)
    problems += _positive("optim.warmup_updates", o.warmup_updates, allow_zero=o.schedule != "inverse_sqrt")
    if not 0.0 <= o.warmup_fraction < 1.0:
        problems.append(f"optim.warmup_fraction={o.warmup_fraction} must be in [0, 1) (the share of the "
                        "budget spent warming up under optim.schedule=budget, e.g. 0.05)")
    for key, value in [("model.dropout", m.dropout), ("model.attention_dropout", m.attention_dropout),
                       ("model.activation_dropout", m.activation_dropout),
                       ("optim.label_smoothing", o.label_smoothing)]:
        if not 0.0 <= value < 1.0:
            problems.append(f"{key}={value} must be in [0, 1)")
    if len(o.betas) != 2 or not all(0.0 <= beta < 1.0 for beta in o.betas):
        problems.append(f"optim.betas={list(o.betas)} must be two numbers in [0, 1) (Adam's beta1 and beta2, "
                        "e.g. [0.9, 0.98])")
    return problems + seed_problems(cfg.seed)


def seed_problems(seed: int) -> list[str]:
    return [] if 0 <= seed < 2**32 else [f"seed={seed} must be in 0..{2**32 - 1} (numpy's seed range)"]


def _batch_problems(o: Any) -> list[str]:
    if o.update_freq is not None and o.update_freq <= 0:
        return [f"optim.update_freq={o.update_freq} must be > 0 (or null to derive it)"]
    if o.batch_size is None or o.update_freq is None or not o.device_batch_size or o.batch_size <= 0:
        return []
    if o.batch_size > o.update_freq * o.device_batch_size:  # the per-device batch would not fit
        needed = -(-o.batch_size // o.device_batch_size)
        return [f"optim.batch_size={o.batch_size} needs optim.update_freq >= {needed} at "
                f"optim.device_batch_size={o.device_batch_size}, not {o.update_freq}; "
                "leave update_freq null to derive it"]
    return []


def resolve_world_size(cfg: Any, device: str, visible_gpus: int) -> int:
    """Data-parallel processes for a run: as set, else one per visible GPU (one on CPU)."""
    if cfg.world_size is not None:
        return int(cfg.world_size)
    return max(visible_gpus, 1) if device == "cuda" else 1


def resolve_device(device: str, cuda_available: bool) -> str:
    return ("cuda" if cuda_available else "cpu") if device == "auto" else device


def resolve_precision(precision: str, device: str, bf16_supported: bool) -> str:
    """auto: bf16 on CUDA (fp16 where the GPU has no bf16), fp32 on CPU."""
    if precision != "auto":
        return precision
    return ("bf16" if bf16_supported else "fp16") if device == "cuda" else "fp32"


# Measured on an H100 with RoBERTa 24 x 1024: one worker left the GPU waiting for masked batches
# for a quarter of each update; six brought that under a tenth. More than 8 gains nothing there.
MAX_WORKERS_PER_GPU = 8


def resolve_num_workers(num_workers: Optional[int], device: str, cpus: int, gpus: int) -> int:
    """As set, else 1 on CPU (workers there take cores from training), else this process's share of
    the CPUs, up to MAX_WORKERS_PER_GPU."""
    if num_workers is not None:
        return int(num_workers)
    if device != "cuda":
        return 1
    return max(1, min(MAX_WORKERS_PER_GPU, cpus // max(gpus, 1) - 1))


def to_container(cfg: Any) -> dict:
    """The resolved config as plain dicts, lists and strings (for checkpoints, result.json and W&B):
    a Choice is saved as its value, so a checkpoint loads without this module."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False,  # type: ignore[return-value]
                                  enum_to_str=True)


def typed_config(config: dict) -> DictConfig:
    """A saved training config (result.json's, a checkpoint's, a worker's) typed again on today's schema:
    settings added since it was saved take their defaults, which reproduce the old behaviour."""
    register_configs()
    try:
        return OmegaConf.merge(OmegaConf.structured(TrainConfig), config)  # type: ignore[return-value]
    except Exception:  # noqa: BLE001 - a setting since removed: use the config as it is
        return OmegaConf.create(config)
