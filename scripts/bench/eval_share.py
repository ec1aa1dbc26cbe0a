"""The eval-share section: evaluation seconds over wall seconds, goal <= 10%. The toy presets are
measured through the real loop at their sweep budgets (measure.loop_run); the paper presets are
estimated from their default eval settings, as below.

Their data (WMT14, Wikipedia + BookCorpus, GLUE) and their GPUs are not on a CPU machine, so the
share is estimated: eval seconds = FLOPs of the evaluation / the FLOP rate it runs at, with

- the training FLOP rate R of the preset's largest model: measured by the gpu section on this
  device when it ran first, else ASSUMED_TRAIN_FLOPS (stated in the output);
- loss evaluation (a forward pass, 1/3 of training FLOPs per token) at R;
- beam-search decoding (translation BLEU) at DECODE_EFFICIENCY x R: one token per step for
  beam x sentences rows, far smaller products than training's.

share = X / (T + X), X = validations x (seconds per validation) + final test evaluation, T the
training budget of the preset's sweep (sweeps/*.yaml); `budget_for_goal` is the smallest T at
which the share stays under GOAL. Validation and test sizes are those of the public sets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from train_large.cli import compose_train
from train_large.flops import FlopModel

from .runs import Workspace
from .toy import Sizes, toy_setup

GOAL = 0.10
# One H100 (SXM) at 40% of its 989 TFLOP/s dense bf16: an assumption, replaced by the measured
# rate when the gpu section runs first (`--gpu`).
ASSUMED_TRAIN_FLOPS = 0.4 * 989e12
# Decoding's FLOP rate over training's (assumed): per step it multiplies beam x sentences rows
# by each weight matrix once, and pays a Python step of fairseq's SequenceGenerator per token.
DECODE_EFFICIENCY = 0.1


def transformer_counts(width: int, ffn: int, encoder_layers: int, decoder_layers: int, head: int) -> FlopModel:
    """FlopModel of a fairseq Transformer from its shape (weights and biases of each layer)."""
    attention, feed_forward, norm = 4 * width * width + 4 * width, 2 * width * ffn + width + ffn, 2 * width
    encoder = encoder_layers * (attention + feed_forward + 2 * norm)
    decoder = decoder_layers * (2 * attention + feed_forward + 3 * norm)
    return FlopModel(width, encoder, encoder_layers, decoder, decoder_layers, head_params=head)


@dataclass(frozen=True)
class Workload:
    """What one validation and the final test evaluation of a preset go through."""

    preset: str
    sweep: str  # the sweep whose budget is T
    budget_seconds: float
    gpu_model: str  # measure.GPU_MODELS key whose measured rate stands for this preset
    flops: FlopModel
    valid: tuple[int, float, float]  # sequences, mean source tokens, mean target tokens (0: encoder only)
    test: tuple[int, float, float] | None
    scored: float  # positions the output layer scores per sequence


# Sizes of the public sets; token lengths are estimates for the presets' sentencepiece vocabularies.
WORKLOADS = [
    Workload("wmt14_en_fr", "mt_width", 36000, "wmt_big_6x1024",
             transformer_counts(1024, 4096, 6, 6, head=40000 * 1024),
             valid=(3000, 30.0, 35.0), test=(3003, 30.0, 35.0), scored=35.0),  # newstest2013, newstest2014
    Workload("roberta_mlm", "roberta_width", 86400, "roberta_24x1024",
             transformer_counts(1024, 4096, 24, 0, head=32000 * 1024),
             # 1 document in 5000 held out of ~4.2e9 tokens (download_wikipedia_bookcorpus.sh)
             valid=(6600, 128.0, 0.0), test=(6600, 128.0, 0.0), scored=0.15 * 128),
    Workload("mnli", "finetune", 7200, "roberta_24x1024", transformer_counts(1024, 4096, 24, 0, head=1024 * 1027),
             valid=(9815 + 9832, 40.0, 0.0), test=None, scored=1.0),  # dev matched + mismatched; no test labels
    Workload("sst2", "finetune", 7200, "roberta_24x1024", transformer_counts(1024, 4096, 24, 0, head=1024 * 1026),
             valid=(872, 25.0, 0.0), test=None, scored=1.0),
]


def forward_flops(w: Workload, split: tuple[int, float, float]) -> float:
    """One forward pass over a split: a third of training's FLOPs for the same tokens."""
    sequences, source, target = split
    targets = [round(target)] * sequences if target else []
    return w.flops.update_flops([round(source)] * sequences, targets, round(sequences * w.scored)) / 3


def decode_flops(w: Workload, sentences: int, beam: int, source: float, target: float) -> float:
    """Beam search with incremental states: the encoder once per sentence, then per generated token
    and hypothesis the decoder stack, the output layer and attention over the tokens so far."""
    f, d = w.flops, w.flops.width
    encoder = 2 * f.encoder_params * source + 4 * f.encoder_layers * d * source * source
    steps = target * (2 * f.decoder_params + 2 * f.head_params) + 4 * f.decoder_layers * d * (
        target * (target + 1) / 2 + target * source)
    return sentences * (encoder + beam * steps)


def eval_share(w: Workload, train_flops: float, measured: bool) -> dict:
    """The preset's eval share at its sweep budget, from its composed default eval settings."""
    cfg: Any = compose_train([f"task={w.preset}", f"budget.train_seconds={w.budget_seconds}"])
    e, every = cfg.task.eval, cfg.budget.eval_every_seconds
    validations = math.ceil(w.budget_seconds / every)  # every mark before T, and the final one at T
    valid_seconds = forward_flops(w, w.valid) / train_flops
    test_seconds = forward_flops(w, w.test) / train_flops if w.test else 0.0
    if cfg.task.kind == "translation":
        subset = min(e.bleu_sentences or w.valid[0], w.valid[0])
        valid_seconds += decode_flops(w, subset, e.beam, *w.valid[1:]) / (DECODE_EFFICIENCY * train_flops)
        if w.test:
            full = min(e.test_sentences or w.test[0], w.test[0])
            test_seconds += decode_flops(w, full, e.test_beam, *w.test[1:]) / (DECODE_EFFICIENCY * train_flops)
    outside = validations * valid_seconds + test_seconds
    return {"preset": w.preset, "sweep": w.sweep, "budget_seconds": w.budget_seconds, "validations": validations,
            "seconds_per_validation": valid_seconds, "test_seconds": test_seconds,
            "eval_share": outside / (w.budget_seconds + outside),
            "budget_for_goal": outside * (1 - GOAL) / GOAL, "train_flops_per_second": train_flops,
            "rate": "measured" if measured else "assumed", "goal": GOAL}


def paper_eval_shares(measured_flops: dict[str, float] | None = None) -> list[dict]:
    """Every paper preset's estimate; `measured_flops`: GPU_MODELS key -> training FLOP/s measured here."""
    measured_flops = measured_flops or {}
    return [eval_share(w, measured_flops.get(w.gpu_model, ASSUMED_TRAIN_FLOPS), w.gpu_model in measured_flops)
            for w in WORKLOADS]


# What a toy run's figures keep of measure.loop_run's.
KEPT = ("eval_share", "checkpoint_share", "records", "spent", "total_seconds", "clock_error", "clock_check")


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    """Toy presets measured through the real loop; paper presets estimated, at the GPU section's
    measured rates when it ran first."""
    from .measure import loop_run

    budget = sizes.toy_seconds
    toy = {}
    for task in sizes.toy_tasks:
        cfg, data = toy_setup(space, f"task={task}", f"budget.train_seconds={budget}", *sizes.toy_eval)
        measured = loop_run(cfg, data, "cpu", space.fresh_runs())
        toy[task] = {"budget_seconds": budget, "overrides": list(sizes.toy_eval), **{k: measured[k] for k in KEPT}}
        print(f"  {task}: eval share {measured['eval_share']:.1%} at a {budget} s budget", flush=True)
    gpu_rates = report["sections"].get("gpu", {}).get("train_flops_per_second")
    return {"toy": toy, "paper": paper_eval_shares(gpu_rates), "goal": 0.10}
