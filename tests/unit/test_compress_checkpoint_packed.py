"""The packed compressed file: bit-packing maths, and the file of a compressed model against the
bytes `footprint` reports and the model it was packed from (prune, quantize, prune + quantize)."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from compress import packing
from compress.checkpoint import (HEADER_ALLOWANCE_BYTES, attach_activation_quant, load_compressed, pack_compressed,
                                 quantized_tensors, restore_compressed)
from compress.footprint import model_bytes
from compress.packing import pack_bits, pack_codes, unpack_bits, unpack_codes
from compress.prune import make_permanent, prune_magnitude
from compress.quantize import quantize_weights
from compress.targets import select_targets


class Attention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.q_proj(x) @ self.k_proj(x).transpose(1, 2) / math.sqrt(x.shape[-1]), dim=-1)
        return self.out_proj(weights @ self.v_proj(x))


class TinyLM(nn.Module):
    """One pre-norm Transformer layer; the output projection tied to the embedding, and a buffer
    (fairseq keeps a `version` buffer) that is not a parameter but must come back too."""

    def __init__(self, vocab: int = 64, width: int = 32, ffn: int = 128) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed_tokens = nn.Embedding(vocab, width)
        self.self_attn = Attention(width)
        self.layer_norm = nn.LayerNorm(width)
        self.fc1, self.fc2 = nn.Linear(width, ffn), nn.Linear(ffn, width)
        self.output_projection = nn.Linear(width, vocab, bias=False)
        self.output_projection.weight = self.embed_tokens.weight
        self.register_buffer("version", torch.tensor([3.0]))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(tokens)
        x = x + self.self_attn(self.layer_norm(x))
        x = x + self.fc2(torch.relu(self.fc1(x)))
        return self.output_projection(x)


TOKENS = torch.randint(0, 64, (3, 7), generator=torch.Generator().manual_seed(1))


def compress(method: str, bits: int | None, granularity: str = "channel") -> tuple[nn.Module, dict, dict]:
    """(model, quantized, activation scales) as the pipeline leaves them: global pruning to 0.5,
    fc2 further to 0.98 on its own (a tensor sparse enough for CSR), then k-bit codes."""
    model = TinyLM().eval()
    targets = select_targets(model, embeddings=True)
    scales = {}
    if method != "quantize":
        prune_magnitude(model, targets, 0.5)
        prune_magnitude(model, [t for t in targets if t.name == "fc2.weight"], 0.98, scope="layer")
        make_permanent(model)
    quantized = quantize_weights(model, targets, bits, granularity) if bits else {}
    if method == "prune_quantize":
        scales = {"fc1": 2.5, "fc2": 1.5}
        attach_activation_quant(model, scales, 8)
    return model, quantized, scales


CASES = {"prune": ("prune", None, "channel"), "quantize 5-bit": ("quantize", 5, "channel"),
         "prune + quantize 3-bit": ("prune_quantize", 3, "tensor")}


@pytest.mark.parametrize("bits", range(1, 17))
def test_packing_round_trips_every_width_and_crosses_byte_boundaries(bits, monkeypatch):
    monkeypatch.setattr(packing, "CHUNK", 16)  # several packing steps for 37 values
    generator = torch.Generator().manual_seed(bits)
    levels = 2 ** (bits - 1) - 1
    if bits == 1:
        values = torch.randint(0, 2, (37,), generator=generator)
        stream, back = pack_bits(values, 1), lambda data: unpack_bits(data, 1, 37)
    else:
        values = torch.randint(-levels, levels + 1, (37,), generator=generator).to(
            torch.int8 if bits <= 8 else torch.int16)
        stream, back = pack_codes(values, bits), lambda data: unpack_codes(data, bits, 37)
    assert stream.dtype == torch.uint8 and stream.numel() == math.ceil(37 * bits / 8)
    assert torch.equal(back(stream).long(), values.long())


def test_three_bit_codes_are_little_endian_twos_complement():
    # 1 = 001, -1 = 111, 3 = 011, value i at bits 3i..3i+2, lowest bit first:
    # byte 0 = bits 0..7 = 1,0,0, 1,1,1, 1,1 -> 0b11111001; byte 1 = bit 8 = 0.
    assert pack_codes(torch.tensor([1, -1, 3], dtype=torch.int8), 3).tolist() == [0b11111001, 0]
    assert pack_codes(torch.tensor([-127, 5], dtype=torch.int8), 8).tolist() == [129, 5]  # int8 bytes as they are


@pytest.mark.parametrize("case", CASES)
def test_the_file_is_the_reported_bytes_and_restores_the_compressed_model(case, tmp_path):
    model, quantized, scales = compress(*CASES[case])
    footprint = model_bytes(model, quantized=quantized or None)
    path = tmp_path / "compressed.safetensors"
    path.write_bytes(pack_compressed(model, footprint, quantized, activations=scales, info={"config": {"a": 1}}))
    size = path.stat().st_size
    assert footprint.bytes <= size <= 1.02 * footprint.bytes + HEADER_ALLOWANCE_BYTES, (size, footprint.bytes)

    state = load_compressed(path)
    for row in footprint.rows:  # each tensor in the layout it was counted in, at exactly its count
        stored = [t for key, t in state["tensors"].items() if key.rpartition(":")[0] == row.name]
        assert state["layout"][row.name]["format"] == row.format, row.name
        assert sum(t.numel() * t.element_size() for t in stored) == row.bytes, row.name
    for name, q in quantized.items():  # the codes and scales themselves, unpacked from the file
        assert torch.equal(quantized_tensors(state)[name].codes, q.codes) and \
            torch.equal(quantized_tensors(state)[name].scale, q.scale), name

    fresh = TinyLM().eval()
    fresh.apply(lambda m: [torch.nn.init.normal_(p) for p in m.parameters(recurse=False)])
    fresh.version.fill_(0.0)
    restore_compressed(fresh, state)
    expected = {k: v for k, v in model.state_dict().items() if "input_fake_quant" not in k}
    for name, value in expected.items():
        assert torch.equal(fresh.state_dict()[name], value), name
    assert fresh.output_projection.weight is fresh.embed_tokens.weight  # still tied
    with torch.no_grad():
        assert torch.equal(fresh(TOKENS), model(TOKENS))  # activation quantization came back too


def test_a_bf16_model_is_stored_at_bf16_and_restores_exactly(tmp_path):
    """A CUDA job holds a bf16 source at bf16: its unquantized weights are stored (and counted) at
    2 bytes, and the codes dequantize back to the very bf16 values it was evaluated with."""
    model = TinyLM().bfloat16().eval()
    targets = select_targets(model)
    prune_magnitude(model, targets[:4], 0.5)
    make_permanent(model)
    quantized = quantize_weights(model, targets[4:], 4)
    footprint = model_bytes(model, quantized=quantized)
    path = tmp_path / "compressed.safetensors"
    path.write_bytes(pack_compressed(model, footprint, quantized))
    assert footprint.bytes <= path.stat().st_size <= 1.02 * footprint.bytes + HEADER_ALLOWANCE_BYTES
    state = load_compressed(path)
    assert state["tensors"]["layer_norm.weight:values"].dtype == torch.bfloat16
    fresh = TinyLM().bfloat16().eval()
    restore_compressed(fresh, state)
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name


def test_the_cases_cover_every_layout_and_odd_widths():
    formats = set()
    for case in CASES.values():
        model, quantized, _ = compress(*case)
        formats |= {row.format for row in model_bytes(model, quantized=quantized or None).rows}
    assert formats == {"dense", "bitmask", "csr"}
    assert {bits for _, bits, _ in CASES.values() if bits and bits % 8} == {3, 5}


def test_packing_a_model_still_under_pruning_masks_is_refused():
    model = TinyLM()
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.5)
    with pytest.raises(ValueError, match="not a plain parameter.*make pruning permanent"):
        pack_compressed(model, model_bytes(model), {})


def test_a_damaged_or_foreign_file_is_refused_in_one_line(tmp_path):
    model, quantized, _ = compress("prune_quantize", 3, "tensor")
    data = pack_compressed(model, model_bytes(model, quantized=quantized), quantized)
    path = tmp_path / "compressed.safetensors"
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match=f"compressed checkpoint {path} is damaged or truncated"):
        load_compressed(path)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not a compressed checkpoint"):
        load_compressed(path)


def test_packing_is_pure_torch():
    """Like the rest of the compression maths (tests/unit/test_compress_prune.py): no fairseq,
    wandb or train_large, so a deployment can unpack without the harness."""
    tree = ast.parse((Path(packing.__file__)).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported and not {name for name in imported if name.split(".")[0] in ("fairseq", "wandb", "train_large")}
