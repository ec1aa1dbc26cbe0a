"""k-bit quantization: levels, error bound, fake quantization for QAT."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compress.prune import make_permanent, prune_magnitude
from compress.quantize import (
    attach_fake_quant,
    detach_fake_quant,
    quantize_tensor,
    quantize_weights,
)
from compress.targets import select_targets
from tests.unit.test_compress_prune import snapshot, tiny_translation_model


def weight(rows: int = 16, columns: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(rows, columns, generator=generator) * torch.logspace(-2, 1, rows).unsqueeze(1)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("granularity", ["channel", "tensor"])
def test_codes_use_at_most_2k_minus_1_symmetric_levels(bits: int, granularity: str) -> None:
    q = quantize_tensor(weight(), bits, granularity)
    levels = 2 ** (bits - 1) - 1
    assert q.codes.dtype == torch.int8 and int(q.codes.abs().max()) == levels
    groups = q.dequantize() if granularity == "channel" else q.dequantize().flatten().unsqueeze(0)
    assert max(row.unique().numel() for row in groups) <= 2**bits - 1


@pytest.mark.parametrize("bits", [2, 4, 8, 12])
@pytest.mark.parametrize("granularity", ["channel", "tensor"])
def test_error_is_at_most_half_a_step(bits: int, granularity: str) -> None:
    w = weight()
    q = quantize_tensor(w, bits, granularity)
    step = q.scale.unsqueeze(1) if granularity == "channel" else q.scale
    assert bool(((w - q.dequantize()).abs() <= step / 2 * (1 + 1e-6) + 1e-12).all())
    assert q.codes.dtype == (torch.int8 if bits <= 8 else torch.int16)


def test_all_zero_row_gets_scale_zero_and_no_nan() -> None:
    w = weight()
    w[3] = 0.0
    q = quantize_tensor(w, 4, "channel")
    assert float(q.scale[3]) == 0.0 and not bool(q.dequantize().isnan().any())
    assert torch.equal(q.dequantize()[3], torch.zeros(32))


def test_sixteen_bits_changes_weights_by_less_than_1e_4_relative() -> None:
    w = weight()
    for granularity in ("channel", "tensor"):
        change = (w - quantize_tensor(w, 16, granularity).dequantize()).abs().max()
        assert float(change / w.abs().max()) < 1e-4


@pytest.mark.parametrize("bits", [1, 0, 17])
def test_bits_outside_2_to_16_is_one_line_naming_the_key(bits: int) -> None:
    model = tiny_translation_model()
    with pytest.raises(ValueError, match=r"compression\.bits must be an integer in 2\.\.16") as err:
        quantize_weights(model, select_targets(model), bits)
    assert "\n" not in str(err.value)


def test_quantize_weights_bakes_deployed_values_and_leaves_the_rest() -> None:
    model = tiny_translation_model()
    before = snapshot(model)
    targets = select_targets(model)
    quantized = quantize_weights(model, targets, 4, "channel")
    assert list(quantized) == [t.name for t in targets]
    for name, value in model.state_dict().items():
        if name in quantized:
            assert torch.equal(value, quantized[name].dequantize())
            assert not torch.equal(value, before[name])
        else:
            assert torch.equal(value, before[name]), name
    again = quantize_weights(model, targets, 4, "channel")
    assert all(torch.equal(again[name].codes, q.codes) for name, q in quantized.items())


def test_quantization_keeps_pruned_weights_at_zero() -> None:
    model = tiny_translation_model()
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.5)
    zero = [(t.weight == 0).clone() for t in targets]
    quantize_weights(model, targets, 3)
    assert all(bool((t.weight[z] == 0).all()) for t, z in zip(targets, zero))
    make_permanent(model)
    assert all(bool((t.weight[z] == 0).all()) for t, z in zip(select_targets(model), zero))


def test_fake_quant_forwards_deployed_weights_and_passes_gradients_straight_through() -> None:
    model = tiny_translation_model()
    fc1 = model.encoder.layers[0].fc1
    deployed = quantize_tensor(fc1.weight, 4, "channel").dequantize()
    attach_fake_quant(model, select_targets(model), 4, "channel")
    x = torch.randn(3, 8)
    assert torch.allclose(fc1(x), F.linear(x, deployed, fc1.bias), atol=1e-6)
    upstream = torch.randn_like(deployed)
    (fc1.weight * upstream).sum().backward()
    assert torch.equal(fc1.parametrizations.weight.original.grad, upstream)


def test_codes_round_half_to_even() -> None:
    w = torch.tensor([[0.5, 1.5, 2.5, -0.5, -2.5, 7.0]])  # scale 7 / 7 = 1: codes are w rounded
    assert quantize_tensor(w, 4, "tensor").codes.tolist() == [[0, 2, 2, 0, -2, 7]]


def test_fake_quant_of_a_bf16_weight_deploys_its_fp32_codes_with_a_straight_through_gradient() -> None:
    fc = nn.Linear(32, 16).to(torch.bfloat16)
    expected = quantize_tensor(fc.weight, 3, "channel").dequantize().to(torch.bfloat16)
    model = nn.Sequential()
    model.add_module("fc1", fc)
    attach_fake_quant(model, select_targets(model), 3, "channel")
    assert fc.weight.dtype == torch.bfloat16 and torch.equal(fc.weight, expected)
    fc.weight.sum().backward()
    assert torch.equal(fc.parametrizations.weight.original.grad, torch.ones(16, 32, dtype=torch.bfloat16))


def test_detach_fake_quant_bakes_values_into_plain_shared_parameters() -> None:
    model = tiny_translation_model()
    keys = list(model.state_dict())
    targets = select_targets(model, embeddings=True, output=True)
    expected = {t.name: quantize_tensor(t.weight, 6, "tensor").dequantize() for t in targets}
    attach_fake_quant(model, targets, 6, "tensor")
    assert detach_fake_quant(model) == len(targets) + 1  # the tied tensor has two places
    assert sorted(model.state_dict()) == sorted(keys)  # torch re-registers the weight after the bias
    embed, output = model.encoder.embed_tokens, model.decoder.output_projection
    assert output.weight is embed.weight and isinstance(embed.weight, nn.Parameter)
    state = model.state_dict()
    assert all(torch.equal(state[name], value) for name, value in expected.items())


def test_activation_observer_tracks_a_moving_max_and_freezes_in_eval() -> None:
    model = tiny_translation_model()
    fc2 = model.encoder.layers[0].fc2
    attach_fake_quant(model, select_targets(model), 8, activations=True)
    fc2(torch.full((2, 16), 2.0))
    fc2(torch.full((2, 16), -4.0))
    assert float(fc2.input_fake_quant.amax) == pytest.approx(2.0 + 0.01 * (4.0 - 2.0))
    fc2.eval()
    x = torch.linspace(-3, 3, 16).unsqueeze(0)
    scale = float(fc2.input_fake_quant.amax) / 127
    expected = F.linear(torch.round(x / scale).clamp(-127, 127) * scale, fc2.weight, fc2.bias)
    assert torch.allclose(fc2(x), expected, atol=1e-6)
    assert float(fc2.input_fake_quant.amax) == pytest.approx(2.02)
    detach_fake_quant(model)
    assert not hasattr(fc2, "input_fake_quant") and not fc2._forward_pre_hooks


def test_fake_quant_on_a_pruning_mask_is_refused() -> None:
    model = tiny_translation_model()
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.5)
    with pytest.raises(ValueError, match="make_permanent"):
        attach_fake_quant(model, targets, 8)
