"""Fine-tuning under pruning masks when a parent reads a pruned weight without calling its module
(as fairseq's attention hands q/k/v/out_proj weights to F.multi_head_attention_forward)."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from compress.finetune import ZerosHeld, masks_applied
from compress.prune import make_permanent, prune_magnitude
from compress.targets import select_targets


class FusedAttention(nn.Module):
    """Reads its projections' weights directly, never calling them."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.q_proj, self.out_proj = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.q_proj.weight, self.q_proj.bias).relu(), self.out_proj.weight)


def model_and_targets():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("self_attn", FusedAttention())
    return model, select_targets(model)


def train(model: nn.Module, steps: int = 3) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(steps):
        model(torch.randn(4, 8)).pow(2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()


def test_without_the_model_hook_a_second_update_fails():
    model, targets = model_and_targets()
    prune_magnitude(model, targets, 0.5)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        train(model)


def test_masks_applied_keeps_zeros_while_the_optimizer_moves_weight_orig():
    model, targets = model_and_targets()
    prune_magnitude(model, targets, 0.5)
    before = [t.parameter.detach().clone() for t in targets]
    with masks_applied(model):
        train(model)
    assert all(not torch.equal(b, t.parameter) for b, t in zip(before, targets))
    numel = sum(t.numel() for t in targets)
    assert sum(int((t.weight == 0).sum()) for t in targets) == round(0.5 * numel)
    make_permanent(model)
    assert sum(int((t.parameter == 0).sum()) for t in targets) == round(0.5 * numel)


def test_zeros_held_puts_pruned_weights_back_after_each_update():
    model, targets = model_and_targets()
    prune_magnitude(model, targets, 0.5)
    make_permanent(model)

    class Engine:
        def __init__(self) -> None:
            self.model, self.learning_rate = model, 0.1
            self.optimizer = torch.optim.Adam(model.parameters(), lr=0.1)

        def train_step(self) -> None:
            model(torch.randn(4, 8)).pow(2).sum().backward()
            self.optimizer.step()
            self.optimizer.zero_grad()

    held = ZerosHeld(Engine(), targets)
    zeros = [t.parameter == 0 for t in targets]
    for _ in range(3):
        held.train_step()
    assert all(bool((t.parameter[z] == 0).all()) for t, z in zip(targets, zeros))
