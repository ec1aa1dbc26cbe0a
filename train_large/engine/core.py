"""The engine: the one place that builds and drives fairseq's task, model, criterion and trainer, for
the three task kinds (whose fairseq tasks differ in flags, `fairseq_args`, not in how they step)."""
from __future__ import annotations

import itertools
import logging
import math
from argparse import Namespace
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from ..flops import FlopModel
from ..runtime import Runtime, with_runtime
from . import fairseq_import

with fairseq_import():
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

from .fairseq_args import train_argv
from .hydra_compat import fairseq_compose_context, park_fairseq_configs

park_fairseq_configs()  # fairseq's imports above registered its configs under our group names

log = logging.getLogger(__name__)


@dataclass
class StepStats:
    loss: float  # training loss, nats per scored position (label-smoothed for translation)
    nll_loss: float  # unsmoothed negative log-likelihood, nats per scored position
    tokens: int  # tokens in this update (target tokens for translation, input tokens otherwise)
    scored: int  # positions the loss averages over: target tokens, masked tokens or sentences
    flops: float  # estimated training FLOPs of this update (train_large.flops)


class Engine:
    """A fairseq model and its trainer, driven one update at a time."""

    def __init__(self, fairseq_cfg: Any, device: str, kind: str, eval_splits: list[str], *,
                 compile_encoder: bool = False) -> None:
        self.fairseq_cfg = fairseq_cfg
        self.device = device
        self.kind = kind
        self.world_size = fairseq_cfg.distributed_training.distributed_world_size
        utils.set_torch_seed(fairseq_cfg.common.seed)
        self.task = tasks.setup_task(fairseq_cfg.task)
        for split in eval_splits:
            self.task.load_dataset(split, combine=False, epoch=1)
        model = self.task.build_model(fairseq_cfg.model)
        self.trainer = Trainer(fairseq_cfg, self.task, model, self.task.build_criterion(fairseq_cfg.criterion))
        self.compiled = compile_encoder
        if compile_encoder:  # H100, RoBERTa 24 x 1024, bf16: 1.62 -> 1.29 s per update after ~10 s of
            # compilation. Encoder only: beam search's incremental state would recompile decoders.
            for layer in encoder_layers(model):
                layer.compile()
        # Built now, not in the first update: torch.optim's first call imports torch._dynamo (2.3 s on 2
        # CPU cores), which belongs to startup, as in fairseq-train, not to training-clock time.
        self.trainer.optimizer  # noqa: B018 - the property builds it
        self._epoch_itr = self.trainer.get_train_iterator(epoch=1, load_dataset=True)
        self._batches: Iterator[list[dict]] | None = None
        # fairseq's epoch iterator has no state between load_state_dict and its first batch (as when a
        # run resumed after its last update saves again); until then it is the state it was loaded from
        self._loaded_iterator: dict | None = None
        self._pad = self.task.source_dictionary.pad()
        self.flop_model = flop_model(model, kind)

    @property
    def model(self) -> torch.nn.Module:
        return self.trainer.model

    @property
    def learning_rate(self) -> float:
        return float(self.trainer.get_lr())

    def set_learning_rate(self, lr: float) -> None:
        """The next update's rate, for `optim.schedule=budget` (fairseq's `fixed` schedule without
        warmup re-applies it after the update)."""
        self.trainer.lr_scheduler.lr = lr
        self.trainer.optimizer.set_lr(lr)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def _next_samples(self) -> list[dict]:
        """The next `update_freq` batches, rolling over into a new epoch."""
        self._loaded_iterator = None
        while True:
            if self._batches is None:
                itr = self._epoch_itr.next_epoch_itr(shuffle=True)
                self._batches = iter(_grouped(itr, self.fairseq_cfg.optimization.update_freq[0]))
            samples = next(self._batches, None)
            if samples is not None:
                return samples
            self._batches = None

    def train_step(self) -> StepStats:
        """One optimizer update (with gradient accumulation over `update_freq` batches)."""
        samples = self._next_samples()
        # Counted on the host copies before the trainer moves them: no device sync in the step.
        lengths = [self._lengths(s) for s in samples if s]
        stats = self.trainer.train_step(samples)
        skipped = stats is None  # an fp16 loss-scale overflow: the work was done, nothing was learned
        if skipped:
            stats = {"loss": 0.0, "nll_loss": 0.0}
        counts = [sum(int(s["ntokens"]) for s in samples if s), 0 if skipped else sum(c[2] for c in lengths),
                  sum(self.flop_model.update_flops(*c) for c in lengths)]
        if self.world_size > 1:  # this process saw its shard only; records count the whole update
            totals = torch.tensor(counts, dtype=torch.float64, device="cuda" if self.device == "cuda" else "cpu")
            torch.distributed.all_reduce(totals)
            counts = totals.tolist()
        tokens, scored, flops = counts
        # fairseq reports bits per scored position (averaged over processes); nats keep ppl = exp(loss).
        return StepStats(loss=float(stats["loss"]) * _LN2, nll_loss=float(stats.get("nll_loss", stats["loss"])) * _LN2,
                         tokens=int(tokens), scored=int(scored), flops=float(flops))

    def _lengths(self, sample: dict) -> tuple[list[int], list[int], int]:
        """(encoder input lengths, decoder input lengths, positions scored) of one batch."""
        net = sample["net_input"]
        if self.kind == "translation":
            target = sample["target"].ne(self._pad).sum(1).tolist()
            return net["src_lengths"].tolist(), target, sum(target)
        source = net["src_tokens"].ne(self._pad).sum(1).tolist()
        if self.kind == "masked_lm":  # the target is padding except at the masked positions
            return source, [], int(sample["target"].ne(self._pad).sum())
        return source, [], int(sample["nsentences"])

    def _eval_batches(self, split: str, ids: list[int] | None = None) -> Iterator[dict]:
        """Batches of `ids` (all of the split by default), shortest first, up to max_tokens_valid."""
        dataset = self.task.dataset(split)
        max_tokens = self.fairseq_cfg.dataset.max_tokens_valid
        ids = sorted(range(len(dataset)) if ids is None else ids, key=lambda i: (int(dataset.num_tokens(i)), i))
        batch: list[int] = []
        longest = 0
        for i in ids:
            longest = max(longest, int(dataset.num_tokens(i)))
            if batch and longest * (len(batch) + 1) > max_tokens:
                yield self._to_device(dataset.collater([dataset[j] for j in batch]))
                batch, longest = [], int(dataset.num_tokens(i))
            batch.append(i)
        if batch:
            yield self._to_device(dataset.collater([dataset[j] for j in batch]))

    def _to_device(self, sample: dict) -> dict:
        return utils.move_to_cuda(sample) if self.device == "cuda" else sample

    @contextmanager
    def _evaluating(self) -> Iterator[torch.nn.Module]:
        """The model in eval mode, its layers uncompiled: evaluation batches change shape at every
        step, and each new shape would cost a recompile worth more than the evaluation itself."""
        self.model.eval()
        with torch.compiler.set_stance("force_eager") if self.compiled else nullcontext():
            yield self.model
        self.model.train()

    def split_size(self, split: str) -> int:
        return len(self.task.dataset(split))

    @torch.no_grad()
    def validate(self, split: str) -> dict:
        """Mean loss over a whole split in nats per scored position: {'loss', 'nll_loss', 'ppl'}, or
        'accuracy' instead of 'ppl' for classification. Masked-LM masks come from a seed fixed per
        split, so every validation scores the same positions."""
        criterion = self.trainer.criterion
        loss_sum = nll_sum = 0.0
        scored = correct = sentences = 0
        with self._evaluating() as model:
            for sample in self._eval_batches(split):
                _, _, out = criterion(model, sample)
                loss_sum += float(out["loss"])
                nll_sum += float(out.get("nll_loss", out["loss"]))
                scored += int(out["sample_size"])
                sentences += int(out["nsentences"])
                correct += int(out.get("ncorrect", 0))
        nll = nll_sum / max(scored, 1)
        metrics = {"loss": loss_sum / max(scored, 1), "nll_loss": nll}
        if self.kind == "classification":
            metrics["accuracy"] = correct / max(sentences, 1)
        else:
            metrics["ppl"] = float(torch.tensor(nll).exp())
        return metrics

    @torch.no_grad()
    def predict(self, split: str) -> list[int]:
        """Classification: the predicted class id (`validate`'s argmax) of each example, in order."""
        head = self.trainer.criterion.classification_head_name
        predicted: dict[int, int] = {}
        with self._evaluating() as model:
            for sample in self._eval_batches(split):
                logits, _ = model(**sample["net_input"], features_only=True, classification_head_name=head)
                predicted.update(zip(sample["id"].tolist(), logits.argmax(dim=-1).tolist()))
        return [predicted[i] for i in range(len(predicted))]

    def load_pretrained(self, weights: dict, source: str) -> None:
        """Start from a pretraining checkpoint's weights (only the new classification head may be absent).
        Raises ValueError, naming `source`, when they do not fit."""
        try:
            result = self.model.load_state_dict(weights, strict=False)
        except RuntimeError as err:
            first = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line),
                         str(err).splitlines()[0])
            raise ValueError(f"init_from={source} does not fit this model ({first})") from err
        missing = [key for key in result.missing_keys if not key.startswith("classification_heads.")]
        if missing or result.unexpected_keys:
            raise ValueError(f"init_from={source} does not fit this model: missing {missing[:3]}, "
                             f"unexpected {result.unexpected_keys[:3]}")

    @torch.no_grad()
    def translate(self, split: str, ids: list[int], *, beam: int, lenpen: float,
                  max_len_a: float, max_len_b: int) -> dict[int, list[str]]:
        """Beam-search hypotheses as subword pieces, keyed by sentence index in the split."""
        pieces: dict[int, list[str]] = {}
        with self._evaluating() as model:
            generator = self.task.build_generator(
                [model], Namespace(beam=beam, lenpen=lenpen, max_len_a=max_len_a, max_len_b=max_len_b))
            for sample in self._eval_batches(split, ids):
                hypos = self.task.inference_step(generator, [model], sample)
                for sentence_id, sentence_hypos in zip(sample["id"].tolist(), hypos):
                    best = sentence_hypos[0]["tokens"].int().cpu()
                    pieces[sentence_id] = self.task.target_dictionary.string(best).split()
        return pieces

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly: weights, optimizer, schedule, data order."""
        return {"model": self.trainer.model.state_dict(), "optimizer": self.trainer.optimizer.state_dict(),
                "lr_scheduler": self.trainer.lr_scheduler.state_dict(), "num_updates": self.trainer.get_num_updates(),
                "iterator": self._loaded_iterator or self._epoch_itr.state_dict(), "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        self.trainer.model.load_state_dict(state["model"])
        self.trainer.optimizer.load_state_dict(state["optimizer"])
        self.trainer.lr_scheduler.load_state_dict(state["lr_scheduler"])
        self.trainer.set_num_updates(state["num_updates"])
        self._epoch_itr = self.trainer.get_train_iterator(epoch=state["iterator"]["epoch"], load_dataset=False)
        self._epoch_itr.load_state_dict(state["iterator"])
        self._loaded_iterator = dict(state["iterator"])
        self._batches = None
        torch.set_rng_state(state["torch_rng"])


_LN2 = math.log(2)


def _grouped(iterable: Iterator[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def encoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The Transformer layers of the model's encoder (RoBERTa's or the translation model's)."""
    encoder = model.encoder
    return list(getattr(encoder, "sentence_encoder", encoder).layers)


def flop_model(model: torch.nn.Module, kind: str) -> FlopModel:
    """The weight and layer counts behind the FLOPs estimate (train_large.flops)."""

    def stack_weights(module: torch.nn.Module) -> int:
        skipped = ("embed_tokens", "embed_positions", "output_projection", "lm_head", "classification_heads")
        return sum(p.numel() for name, p in module.named_parameters() if not any(s in name for s in skipped))

    if kind == "translation":
        vocab, width = model.decoder.embed_tokens.weight.shape
        return FlopModel(width, stack_weights(model.encoder), len(model.encoder.layers),
                         stack_weights(model.decoder), len(model.decoder.layers), head_params=vocab * width)
    encoder = model.encoder.sentence_encoder
    vocab, width = encoder.embed_tokens.weight.shape
    if kind == "masked_lm":  # the LM head's output matrix is the (tied) embedding table
        head = vocab * width + sum(p.numel() for name, p in model.encoder.lm_head.named_parameters()
                                   if name != "weight")
    else:
        head = sum(p.numel() for p in model.classification_heads.parameters())
    return FlopModel(width, stack_weights(encoder), len(encoder.layers), head_params=head)


def build_engine(cfg: Any, data: Any, runtime: Runtime, *, rank: int = 0) -> Engine:
    """The engine of a validated config on `data` (a `PreparedData`). With `runtime.world_size` > 1
    the torch.distributed process group must already exist; fairseq shards the data by `rank`."""
    cfg, device, world_size = with_runtime(cfg, runtime), runtime.device, runtime.world_size
    parser = options.get_training_parser(default_task="translation")
    argv = train_argv(cfg, data.bin_dir, device, num_classes=data.num_classes, world_size=world_size, rank=rank)
    args = options.parse_args_and_arch(parser, input_args=argv)
    if device == "cuda":
        # fairseq's legacy parsing takes --bf16 to mean a TPU run (its trainer would then look for
        # torch_xla); on CUDA bf16 is fp16's FP16Optimizer path without the loss scaler.
        args.tpu = False
    with fairseq_compose_context():
        fairseq_cfg = convert_namespace_to_omegaconf(args)
    # The unlabelled GLUE test splits (`data.submission`) load without targets: predicted, never scored.
    eval_splits = [*data.eval_splits, *(["test"] if "test" in data.lines else []), *data.submission]
    return Engine(fairseq_cfg, device, cfg.task.kind, eval_splits, compile_encoder=cfg.compile)
