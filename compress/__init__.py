"""Compression of trained models: which weights (targets), magnitude pruning, k-bit quantization
and the bytes the result needs (footprint). Pure torch on `nn.Module`s: nothing here imports
fairseq, wandb or train_large.engine.

`tlc-compress` (cli, config, source, finetune, pipeline) applies them to finished training runs
through the training engine; import those modules directly (they pull in the training side).
"""
from .footprint import Footprint, Plan, TensorBytes, model_bytes, plan_for_ratio
from .prune import make_permanent, measured_sparsity, prune_magnitude, sparsity_schedule
from .quantize import (QuantizedTensor, attach_fake_quant, detach_fake_quant, int8_dynamic, quantize_tensor,
                       quantize_weights)
from .targets import Target, select_targets

__all__ = [
    "Footprint", "Plan", "QuantizedTensor", "Target", "TensorBytes", "attach_fake_quant", "detach_fake_quant",
    "int8_dynamic", "make_permanent", "measured_sparsity", "model_bytes", "plan_for_ratio", "prune_magnitude",
    "quantize_tensor", "quantize_weights", "select_targets", "sparsity_schedule",
]
