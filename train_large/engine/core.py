"""The engine: the one place that builds and drives fairseq's task, model, criterion and trainer.

It exposes what the loop needs and nothing of fairseq's shape: `train_step`, `validate`,
`translate`, `state_dict`/`load_state_dict` and `.model`, a plain `nn.Module`. Configs, sinks,
the loop and compression never import fairseq; they talk to this object.
"""
from __future__ import annotations

import logging
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from fairseq import options, tasks, utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.trainer import Trainer

from .fairseq_args import translation_argv
from .hydra_compat import fairseq_compose_context, park_fairseq_configs

park_fairseq_configs()  # fairseq's imports above registered its configs under our group names

log = logging.getLogger(__name__)


@dataclass
class StepStats:
    loss: float  # label-smoothed training loss, nats per target token
    nll_loss: float  # unsmoothed negative log-likelihood, nats per target token
    tokens: int  # target tokens in this update
    sentences: int


class Engine:
    """A fairseq translation model and its trainer, driven one update at a time."""

    def __init__(self, fairseq_cfg: Any, device: str) -> None:
        self.fairseq_cfg = fairseq_cfg
        self.device = device
        utils.set_torch_seed(fairseq_cfg.common.seed)
        self.task = tasks.setup_task(fairseq_cfg.task)
        for split in ("valid", "test"):
            self.task.load_dataset(split, combine=False, epoch=1)
        model = self.task.build_model(fairseq_cfg.model)
        criterion = self.task.build_criterion(fairseq_cfg.criterion)
        self.trainer = Trainer(fairseq_cfg, self.task, model, criterion)
        self._epoch_itr = self.trainer.get_train_iterator(epoch=1, load_dataset=True)
        self._batches: Iterator[list[dict]] | None = None

    @property
    def model(self) -> torch.nn.Module:
        return self.trainer.model

    @property
    def num_updates(self) -> int:
        return self.trainer.get_num_updates()

    @property
    def learning_rate(self) -> float:
        return float(self.trainer.get_lr())

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def _next_samples(self) -> list[dict]:
        """The next `update_freq` batches, rolling over into a new epoch when one ends."""
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
        stats = self.trainer.train_step(samples)
        tokens = sum(int(s["ntokens"]) for s in samples if s)
        sentences = sum(int(s["nsentences"]) for s in samples if s)
        # fairseq reports losses in bits per token; nats keep ppl = exp(loss) everywhere else.
        return StepStats(loss=float(stats["loss"]) * _LN2, nll_loss=float(stats.get("nll_loss", stats["loss"])) * _LN2,
                         tokens=tokens, sentences=sentences)

    def _eval_batches(self, split: str, ids: list[int]) -> Iterator[dict]:
        dataset = self.task.dataset(split)
        max_tokens = self.fairseq_cfg.dataset.max_tokens_valid
        ids = sorted(ids, key=lambda i: (int(dataset.num_tokens(i)), i))
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

    def split_size(self, split: str) -> int:
        return len(self.task.dataset(split))

    @torch.no_grad()
    def validate(self, split: str) -> dict:
        """Mean loss over a whole split: {'loss', 'nll_loss' (nats/token), 'ppl', 'tokens'}."""
        model, criterion = self.trainer.model, self.trainer.criterion
        model.eval()
        loss_sum = nll_sum = 0.0
        tokens = 0
        for sample in self._eval_batches(split, list(range(self.split_size(split)))):
            _, _, out = criterion(model, sample)
            loss_sum += float(out["loss"])
            nll_sum += float(out["nll_loss"])
            tokens += int(out["ntokens"])
        model.train()
        nll = nll_sum / max(tokens, 1)
        return {"loss": loss_sum / max(tokens, 1), "nll_loss": nll, "ppl": float(torch.tensor(nll).exp()),
                "tokens": tokens}

    @torch.no_grad()
    def translate(self, split: str, ids: list[int], *, beam: int, lenpen: float,
                  max_len_a: float, max_len_b: int) -> dict[int, list[str]]:
        """Beam-search hypotheses as subword pieces, keyed by sentence index in the split."""
        model = self.trainer.model
        model.eval()
        generator = self.task.build_generator(
            [model], Namespace(beam=beam, lenpen=lenpen, max_len_a=max_len_a, max_len_b=max_len_b))
        tgt_dict = self.task.target_dictionary
        pieces: dict[int, list[str]] = {}
        for sample in self._eval_batches(split, ids):
            hypos = self.task.inference_step(generator, [model], sample)
            for sentence_id, sentence_hypos in zip(sample["id"].tolist(), hypos):
                best = sentence_hypos[0]["tokens"].int().cpu()
                pieces[sentence_id] = tgt_dict.string(best).split()
        model.train()
        return pieces

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly: weights, optimizer, schedule, data order."""
        return {
            "model": self.trainer.model.state_dict(),
            "optimizer": self.trainer.optimizer.state_dict(),
            "lr_scheduler": self.trainer.lr_scheduler.state_dict(),
            "num_updates": self.trainer.get_num_updates(),
            "iterator": self._epoch_itr.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.trainer.model.load_state_dict(state["model"])
        self.trainer.optimizer.load_state_dict(state["optimizer"])
        self.trainer.lr_scheduler.load_state_dict(state["lr_scheduler"])
        self.trainer.set_num_updates(state["num_updates"])
        self._epoch_itr = self.trainer.get_train_iterator(epoch=state["iterator"]["epoch"], load_dataset=False)
        self._epoch_itr.load_state_dict(state["iterator"])
        self._batches = None
        torch.set_rng_state(state["torch_rng"])


_LN2 = 0.6931471805599453


def _grouped(iterable: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_engine(cfg: Any, data_bin: Path, device: str) -> Engine:
    """Build the fairseq task, model, criterion and trainer for a validated config.

    `data_bin` is a fairseq-binarized translation directory (dict.*.txt, {split}.*.bin/idx).
    """
    parser = options.get_training_parser(default_task="translation")
    args = options.parse_args_and_arch(parser, input_args=translation_argv(cfg, data_bin, device))
    with fairseq_compose_context():
        fairseq_cfg = convert_namespace_to_omegaconf(args)
    return Engine(fairseq_cfg, device)
