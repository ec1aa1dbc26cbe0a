"""Target selection and magnitude pruning on a tiny model named like fairseq's."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from compress.prune import make_permanent, measured_sparsity, prune_magnitude, sparsity_schedule
from compress.targets import select_targets


def tree(**children: nn.Module) -> nn.Module:
    module = nn.Module()
    for name, child in children.items():
        module.add_module(name, child)
    return module


def attention(width: int) -> nn.Module:
    return tree(**{f"{p}_proj": nn.Linear(width, width) for p in ("q", "k", "v", "out")})


def layer(width: int, ffn: int, cross: bool) -> nn.Module:
    parts = {"self_attn": attention(width), "self_attn_layer_norm": nn.LayerNorm(width)}
    if cross:
        parts.update(encoder_attn=attention(width), encoder_attn_layer_norm=nn.LayerNorm(width))
    parts.update(fc1=nn.Linear(width, ffn), fc2=nn.Linear(ffn, width), final_layer_norm=nn.LayerNorm(width))
    return tree(**parts)


def tiny_translation_model(width: int = 8, ffn: int = 16, vocab: int = 12) -> nn.Module:
    """encoder/decoder with shared embeddings and an output projection tied to them."""
    torch.manual_seed(0)
    embed = nn.Embedding(vocab, width)
    encoder = tree(embed_tokens=embed, embed_positions=nn.Embedding(10, width),
                   layers=nn.ModuleList([layer(width, ffn, cross=False)]))
    decoder = tree(embed_tokens=embed, layers=nn.ModuleList([layer(width, ffn, cross=True)]),
                   output_projection=nn.Linear(width, vocab, bias=False))
    decoder.output_projection.weight = embed.weight
    return tree(encoder=encoder, decoder=decoder)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def effective(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every weight as the model computes with it, named without the pruning suffix."""
    state = model.state_dict()
    return {name.removesuffix("_orig"): value * state[name.replace("_orig", "_mask")] if name.endswith("_orig")
            else value for name, value in state.items() if not name.endswith("_mask")}


def test_default_targets_are_attention_and_ffn_weights_in_module_order() -> None:
    names = [t.name for t in select_targets(tiny_translation_model())]
    enc = [f"encoder.layers.0.self_attn.{p}_proj.weight" for p in ("q", "k", "v", "out")]
    dec_self = [n.replace("encoder.", "decoder.", 1) for n in enc]
    dec_cross = [n.replace("self_attn", "encoder_attn") for n in dec_self]
    ffn = ["layers.0.fc1.weight", "layers.0.fc2.weight"]
    assert names == enc + [f"encoder.{n}" for n in ffn] + dec_self + dec_cross + [f"decoder.{n}" for n in ffn]


def test_tied_embedding_and_output_projection_are_one_target() -> None:
    model = tiny_translation_model()
    targets = select_targets(model, attention=False, ffn=False, embeddings=True, output=True)
    assert [t.name for t in targets] == ["encoder.embed_tokens.weight", "encoder.embed_positions.weight"]
    assert [name for name, _, _ in targets[0].aliases] == ["decoder.output_projection.weight"]
    only_output = select_targets(model, attention=False, ffn=False, output=True)
    assert [t.name for t in only_output] == ["decoder.output_projection.weight"]


def test_roberta_heads_are_output_targets_not_attention() -> None:
    embed = nn.Embedding(20, 8)
    lm_head = tree(dense=nn.Linear(8, 8), layer_norm=nn.LayerNorm(8))
    lm_head.weight = embed.weight
    lm_head.bias = nn.Parameter(torch.zeros(20))
    sentence_encoder = tree(embed_tokens=embed, layers=nn.ModuleList([layer(8, 16, cross=False)]))
    heads = nn.ModuleDict({"mnli": tree(dense=nn.Linear(8, 8), out_proj=nn.Linear(8, 3))})
    model = tree(encoder=tree(sentence_encoder=sentence_encoder, lm_head=lm_head), classification_heads=heads)
    assert not any("head" in t.name for t in select_targets(model))
    names = [t.name for t in select_targets(model, attention=False, ffn=False, output=True)]
    # the tied lm_head weight sorts where the tensor first appears: at the embedding
    assert names == ["encoder.lm_head.weight", "encoder.lm_head.dense.weight",
                     "classification_heads.mnli.dense.weight", "classification_heads.mnli.out_proj.weight"]


def test_nothing_to_select_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="no weights to compress") as err:
        select_targets(tree(norm=nn.LayerNorm(4), embed=nn.Embedding(3, 4)))
    assert "\n" not in str(err.value)


def test_global_pruning_zeroes_exactly_round_s_n_smallest_and_touches_nothing_else() -> None:
    model = tiny_translation_model()
    before = snapshot(model)
    targets = select_targets(model)
    n = sum(t.numel() for t in targets)
    prune_magnitude(model, targets, 0.3, scope="global")
    after = effective(model)
    targeted = {t.name for t in targets}
    zeros = sum(int((after[name] == 0).sum()) for name in targeted)
    assert zeros == round(0.3 * n) == 384
    pruned = torch.cat([before[name][after[name] == 0].abs() for name in targeted])
    kept = torch.cat([before[name][after[name] != 0].abs() for name in targeted])
    assert pruned.max() <= kept.min()
    for name, value in after.items():
        if name in targeted:
            assert torch.equal(value[value != 0], before[name][value != 0])
        else:
            assert torch.equal(value, before[name]), name
    assert measured_sparsity(model, targets) == pytest.approx(384 / n)


def test_pruning_count_is_exact_when_every_magnitude_ties() -> None:
    model = tiny_translation_model()
    targets = select_targets(model)
    with torch.no_grad():
        for t in targets:
            t.parameter.copy_(torch.sign(torch.randn_like(t.parameter)))
    prune_magnitude(model, targets, 0.37, scope="global")
    n = sum(t.numel() for t in targets)
    assert sum(int((t.weight == 0).sum()) for t in targets) == round(0.37 * n)
    assert int((targets[0].weight == 0).sum()) == targets[0].numel()  # ties go to the earliest target first


def test_layer_pruning_sets_each_tensor_to_its_own_sparsity() -> None:
    model = tiny_translation_model()
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.55, scope="layer")
    for t in targets:
        assert int((t.weight == 0).sum()) == round(0.55 * t.numel()), t.name


def test_masks_keep_pruned_weights_zero_through_fine_tuning() -> None:
    model = tiny_translation_model()
    targets = select_targets(model)
    prune_magnitude(model, targets, 0.5)
    zero = {t.name: (t.weight == 0).clone() for t in targets}
    fc1 = model.encoder.layers[0].fc1
    for _ in range(3):  # plain SGD steps
        fc1(torch.randn(4, 8)).pow(2).sum().backward()
        with torch.no_grad():
            for param in fc1.parameters():
                param -= 0.1 * param.grad
                param.grad = None
    fc1(torch.randn(1, 8))  # the pruning hook recomputes weight = weight_orig * weight_mask
    assert torch.equal(fc1.weight == 0, zero["encoder.layers.0.fc1.weight"])
    assert not torch.equal(fc1.weight_orig * (fc1.weight_mask == 0), torch.zeros_like(fc1.weight))


def test_iterative_pruning_keeps_earlier_zeros_and_hits_each_step_exactly() -> None:
    model = tiny_translation_model()
    targets = select_targets(model)
    n = sum(t.numel() for t in targets)
    previous = [torch.zeros_like(t.parameter, dtype=torch.bool) for t in targets]
    for sparsity in sparsity_schedule(0.75, 3):
        with torch.no_grad():  # fine-tuning moves the surviving weights; shrink some below the pruned
            for t in targets:
                t.parameter.mul_(torch.rand_like(t.parameter))
        prune_magnitude(model, targets, sparsity)
        current = [t.weight == 0 for t in targets]
        assert sum(int(c.sum()) for c in current) == round(sparsity * n)
        assert all(bool((c | ~p).all()) for c, p in zip(current, previous))
        previous = current


def test_sparsity_schedule_is_cubic_increasing_and_ends_at_final() -> None:
    schedule = sparsity_schedule(0.8, 4)
    assert schedule == pytest.approx([0.8 * (1 - (1 - t / 4) ** 3) for t in range(1, 5)])
    assert schedule[-1] == 0.8 and all(a < b for a, b in zip(schedule, schedule[1:]))


def test_tied_mask_reaches_every_place_and_survives_make_permanent() -> None:
    model = tiny_translation_model()
    targets = select_targets(model, embeddings=True, output=True)
    prune_magnitude(model, targets, 0.6)
    embed, output = model.encoder.embed_tokens, model.decoder.output_projection
    output(torch.randn(1, 8))
    assert torch.equal(embed.weight, output.weight) and bool((embed.weight == 0).any())
    assert make_permanent(model) == len(targets) + 1  # the tied tensor has two places
    assert output.weight is embed.weight and isinstance(embed.weight, nn.Parameter)
    assert not [k for k in model.state_dict() if k.endswith(("_orig", "_mask"))]
    assert measured_sparsity(model, select_targets(model, embeddings=True, output=True)) == pytest.approx(
        round(0.6 * sum(t.numel() for t in targets)) / sum(t.numel() for t in targets))


@pytest.mark.parametrize("sparsity", [1.0, -0.1, 1.5])
def test_sparsity_outside_0_1_is_one_line_naming_the_key(sparsity: float) -> None:
    model = tiny_translation_model()
    with pytest.raises(ValueError, match=r"compression\.sparsity must be in \[0, 1\)") as err:
        prune_magnitude(model, select_targets(model), sparsity)
    assert "\n" not in str(err.value)


def test_targets_from_another_model_are_refused() -> None:
    with pytest.raises(ValueError, match="not part of this model"):
        prune_magnitude(tiny_translation_model(), select_targets(tiny_translation_model()), 0.5)


# The compression maths and what it saves and counts with: pure torch. The pipeline and its CLI
# (compress/cli.py, config.py, source.py, finetune.py, pipeline.py) use the
# training side, and reach fairseq only through train_large.engine.
PURE_TORCH = ("__init__", "targets", "prune", "quantize", "footprint", "skeleton", "checkpoint")


def test_compress_imports_no_fairseq_wandb_or_engine() -> None:
    imported = set()
    for path in (Path(__file__).resolve().parents[2] / "compress").glob("*.py"):
        if path.stem not in PURE_TORCH:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module)
    assert imported and not {name for name in imported if name.split(".")[0] in ("fairseq", "wandb", "train_large")}


def test_compress_pipeline_reaches_fairseq_and_wandb_only_through_train_large() -> None:
    imported = set()
    for path in (Path(__file__).resolve().parents[2] / "compress").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module)
    assert not {name for name in imported if name.split(".")[0] in ("fairseq", "wandb")}
