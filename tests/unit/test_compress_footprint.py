"""Byte accounting against hand arithmetic, and planning for a target compression ratio.

The hand-built model (weights shape (out, in)):
    embed_tokens         Embedding(10, 4)      40 weights   (tied to output_projection)
    layers.0.self_attn.q_proj  Linear(4, 4)    16 + 4 bias
    layers.0.fc1               Linear(4, 8)    32 + 8 bias
    layers.0.fc2               Linear(8, 4)    32 + 4 bias
    layers.0.final_layer_norm  LayerNorm(4)     4 + 4
    output_projection    Linear(4, 10), tied    0 more
144 parameters: fp32 = 576 bytes. Untargeted (embedding, biases, norm): 40 + 16 + 8 = 64
parameters = 256 bytes. Targets q_proj, fc1, fc2: 80 weights, 320 bytes.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from compress.footprint import model_bytes, plan_for_ratio, state_bytes
from compress.prune import make_permanent, measured_sparsity, prune_magnitude
from compress.quantize import quantize_weights
from compress.skeleton import skeleton
from compress.targets import select_targets
from tests.unit.test_compress_prune import tree


def hand_model() -> nn.Module:
    torch.manual_seed(0)
    embed = nn.Embedding(10, 4)
    layer = tree(self_attn=tree(q_proj=nn.Linear(4, 4)), fc1=nn.Linear(4, 8), fc2=nn.Linear(8, 4),
                 final_layer_norm=nn.LayerNorm(4))
    model = tree(embed_tokens=embed, layers=nn.ModuleList([layer]), output_projection=nn.Linear(4, 10, bias=False))
    model.output_projection.weight = embed.weight
    with torch.no_grad():  # weights k/n with n per tensor: no code rounds to zero at 4 bits
        for t in select_targets(model):
            t.parameter.copy_(torch.arange(1, t.numel() + 1).view_as(t.parameter) / t.numel())
        layer.final_layer_norm.bias.fill_(0.5)  # all zeros would be stored as a 1-byte bitmask
    return model


def linear_64() -> nn.Module:
    torch.manual_seed(0)
    return tree(layers=nn.ModuleList([tree(fc1=nn.Linear(64, 64, bias=False))]))


def test_unpruned_fp32_model_counts_every_parameter_once() -> None:
    footprint = model_bytes(hand_model())
    assert footprint.fp32_bytes == footprint.bytes == 4 * 144 == 576
    names = [row.name for row in footprint.rows]
    assert names.count("embed_tokens.weight") == 1 and "output_projection.weight" not in names
    assert len(names) == 9 and {row.format for row in footprint.rows} == {"dense"}


def test_4_bit_per_channel_is_packed_codes_plus_fp32_scales() -> None:
    model = hand_model()
    quantized = quantize_weights(model, select_targets(model), 4, "channel")
    rows = {row.name: row for row in model_bytes(model, quantized=quantized).rows}
    assert rows["layers.0.self_attn.q_proj.weight"].bytes == 16 * 4 // 8 + 4 * 4 == 24  # 4 rows, 4 scales
    assert rows["layers.0.fc1.weight"].bytes == 32 * 4 // 8 + 8 * 4 == 48
    assert rows["layers.0.fc2.weight"].bytes == 32 * 4 // 8 + 4 * 4 == 32
    footprint = model_bytes(model, quantized=quantized)
    assert footprint.bytes == 256 + 24 + 48 + 32 == 360
    assert footprint.ratio == 576 / 360


def test_pruning_half_of_a_64x64_linear_does_not_halve_its_bytes() -> None:
    model = linear_64()
    prune_magnitude(model, select_targets(model), 0.5)
    (row,) = model_bytes(model).rows
    # dense 4096 * 4 = 16384; bitmask 4096 / 8 = 512 + 2048 nonzeros * 4 = 8704;
    # csr 2048 * 4 + 2048 * 2 (uint16 columns) + 65 * 4 (int32 row pointers) = 12548
    assert (row.dense_bytes, row.sparse_bytes, row.format, row.bytes) == (16384, 8704, "bitmask", 8704)
    assert model_bytes(model).ratio == pytest.approx(1.882, abs=1e-3)
    assert model_bytes(model, sparse_format=False).bytes == 16384


def test_csr_wins_at_99_percent_sparsity() -> None:
    model = linear_64()
    prune_magnitude(model, select_targets(model), 0.99)
    (row,) = model_bytes(model).rows
    # round(0.99 * 4096) = 4055 zeros, 41 nonzeros: bitmask 512 + 164 = 676; csr 164 + 82 + 260 = 506
    assert (row.nonzeros, row.format, row.bytes) == (41, "csr", 506)


def test_layer_pruned_hand_model_counts_effective_weights_not_orig_or_masks() -> None:
    model = hand_model()
    prune_magnitude(model, select_targets(model, embeddings=True), 0.5, scope="layer")
    rows = {row.name: row for row in model_bytes(model).rows}
    assert not [name for name in rows if name.endswith(("_orig", "_mask"))]
    assert rows["embed_tokens.weight"].bytes == 40 // 8 + 20 * 4 == 85  # tied, counted once
    assert rows["layers.0.self_attn.q_proj.weight"].bytes == 16 // 8 + 8 * 4 == 34
    assert rows["layers.0.fc1.weight"].bytes == rows["layers.0.fc2.weight"].bytes == 32 // 8 + 16 * 4 == 68
    assert model_bytes(model).bytes == (16 + 8) * 4 + 85 + 34 + 68 + 68 == 351


def test_pruned_then_4_bit_is_bitmask_plus_packed_codes_plus_scales() -> None:
    model = linear_64()
    with torch.no_grad():
        model.layers[0].fc1.weight.copy_(torch.arange(1, 4097).view(64, 64) / 4096)
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.5)  # the 32 smallest rows: zero rows, scale 0
    quantized = quantize_weights(model, targets, 4, "channel")
    (row,) = model_bytes(model, quantized=quantized).rows
    # mask 512 + 2048 codes * 4 bits = 1024 + 64 scales * 4 = 256
    assert (row.nonzeros, row.format, row.bytes) == (2048, "bitmask", 1792)
    assert row.dense_bytes == 2048 + 256


def test_plan_quantize_picks_the_most_bits_that_reach_the_ratio() -> None:
    model = hand_model()
    targets = select_targets(model)
    plan = plan_for_ratio(model, targets, 1.5, "quantize")
    # 7 bits: 256 + (14 + 16) + (28 + 32) + (28 + 16) = 390, 1.477x; 6 bits: 380, 1.516x
    assert (plan.bits, plan.sparsity, plan.predicted_bytes) == (6, 0.0, 380)
    quantized = quantize_weights(model, targets, plan.bits, "channel")
    assert model_bytes(model, quantized=quantized).bytes <= 380


def test_plan_prune_finds_the_smallest_sparsity_by_bisection() -> None:
    model = hand_model()
    targets = select_targets(model)
    plan = plan_for_ratio(model, targets, 1.3, "prune")
    # bytes(k zeros) = 256 + min(320, (2 + 4 + 4) + 4 * (80 - k)) <= 576 / 1.3 = 443.1 from k = 36
    assert (plan.sparsity, plan.bits, plan.predicted_bytes) == (36 / 80, None, 442)
    prune_magnitude(model, targets, plan.sparsity)
    assert model_bytes(model).ratio >= 1.3


def test_plan_prune_quantize_falls_back_to_4_bits_past_90_percent() -> None:
    model = linear_64()
    targets = select_targets(model)
    assert plan_for_ratio(model, targets, 10, "prune_quantize").bits == 8
    plan = plan_for_ratio(model, targets, 15, "prune_quantize")
    # 8 bits at most 0.9: 512 + (4096 - 3686) + 256 = 1178, 13.9x; 4 bits: 512 + 256 +
    # (4 * (4096 - k) + 7) // 8 <= 16384 / 15 = 1092.3 from k = 3448
    assert (plan.bits, plan.sparsity, plan.predicted_bytes) == (4, 3448 / 4096, 1092)
    prune_magnitude(model, targets, plan.sparsity)
    quantized = quantize_weights(model, targets, plan.bits, "channel")
    assert model_bytes(model, quantized=quantized).ratio >= 15


def test_unreachable_ratio_is_one_line_with_the_most_this_method_reaches() -> None:
    model = hand_model()
    with pytest.raises(ValueError) as err:
        plan_for_ratio(model, select_targets(model), 3, "prune")
    # at 79 of 80 zeros: 256 + 10 + 4 = 270 bytes, 576 / 270 = 2.133x; the untargeted 256 bytes bound it
    assert str(err.value) == ("compression.ratio=3 is out of reach for prune on this model: "
                              "predicted at most 2.133x (256 bytes of untargeted weights stay)")


# bf16 and fp16: what a CUDA compression of a bf16 source holds (its engine keeps the source's
# precision); the same hand model at 2 bytes a weight: 288 bytes, untargeted 128, targets 160.

def figures_of(model: nn.Module, bits: int | None, quantized: dict | None = None) -> dict:
    """What tlc-compress records for `model` as it is, after pruning and/or quantizing to `bits`."""
    from compress.pipeline import Settings, compression_figures

    c = SimpleNamespace(method="prune_quantize", granularity="per_channel", ratio=None)
    footprint = model_bytes(model, quantized=quantized)
    return compression_figures(c, Settings(measured_sparsity(model), bits), footprint, model, select_targets(model))


@pytest.mark.parametrize("dtype, name", [(torch.bfloat16, "bf16"), (torch.float16, "fp16")])
def test_untouched_16_bit_model_is_16_bits_and_2x_against_fp32(dtype: torch.dtype, name: str) -> None:
    model = hand_model().to(dtype)
    footprint = model_bytes(model)
    assert {row.bits for row in footprint.rows} == {16} and footprint.precision == name
    assert (footprint.bytes, footprint.fp32_bytes, footprint.ratio) == (2 * 144, 576, 2.0)
    assert state_bytes(model.state_dict()) == footprint.bytes  # source_bytes: the source as it ships
    figures = figures_of(model, None)
    assert (figures["bits"], figures["quantized"], figures["precision"]) == (16, False, name)
    assert (figures["bytes"], figures["fp32_bytes"], figures["ratio"]) == (288, 576, 2.0)
    assert figures_of(hand_model(), None)["bits"] == 32 and state_bytes(hand_model().state_dict()) == 576


def test_pruned_and_quantized_bf16_model_keeps_its_untargeted_weights_at_16_bits() -> None:
    model = hand_model().bfloat16()
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.5, scope="layer")
    make_permanent(model)
    # bf16 bitmask: 1/16 of dense. q_proj 16 // 8 + 8 * 2 = 18; fc1, fc2 32 // 8 + 16 * 2 = 36 each
    assert model_bytes(model).bytes == 128 + 18 + 36 + 36 == 218
    assert figures_of(model, None)["bits"] == 16
    quantized = quantize_weights(model, targets, 4, "channel")
    rows = {row.name: row for row in model_bytes(model, quantized=quantized).rows}
    # bitmask + 4-bit codes of the nonzeros + fp32 scales: q_proj 2 + 4 + 16; fc1 4 + 8 + 32; fc2 4 + 8 + 16
    assert [rows[f"layers.0.{n}.weight"].bytes for n in ("self_attn.q_proj", "fc1", "fc2")] == [22, 44, 28]
    assert rows["layers.0.fc1.bias"].bits == 16 and rows["embed_tokens.weight"].bytes == 80
    figures = figures_of(model, 4, quantized)
    assert (figures["bits"], figures["quantized"], figures["precision"]) == (4, True, "bf16")
    assert (figures["bytes"], figures["ratio"]) == (128 + 22 + 44 + 28, 576 / 222)


def test_plan_for_a_bf16_model_counts_its_weights_at_16_bits_on_the_model_and_its_skeleton() -> None:
    model = hand_model().bfloat16()
    targets = select_targets(model)
    plan = plan_for_ratio(model, targets, 3, "prune")
    # out of reach at fp32 (see below); at bf16: 128 + min(160, 10 + 2 * (80 - k)) <= 192 from k = 53
    assert (plan.sparsity, plan.bits, plan.predicted_bytes) == (53 / 80, None, 192)
    shell = skeleton(model.state_dict())  # the up-front check reads the checkpoint, which a bf16 run saves in bf16
    assert plan_for_ratio(shell, select_targets(shell), 3, "prune") == plan
    # quantize: 128 + 64 bytes of scales + 10 * bits <= 576 / 2.5 = 230.4 from 3 bits
    assert plan_for_ratio(model, targets, 2.5, "quantize").predicted_bytes == 222
    prune_magnitude(model, targets, plan.sparsity)
    assert model_bytes(model).ratio >= 3
    as_fp32 = skeleton(hand_model().bfloat16().state_dict(), dtype=torch.float32)  # a run that holds it at fp32
    assert model_bytes(as_fp32).precision == "fp32"
    with pytest.raises(ValueError, match="predicted at most 2.133x"):
        plan_for_ratio(as_fp32, select_targets(as_fp32), 3, "prune")
