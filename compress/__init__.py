"""Compression of trained models. `targets`, `prune`, `quantize`, `footprint`, `packing`,
`checkpoint` and `skeleton` are pure torch on `nn.Module`s (no fairseq, wandb or
train_large.engine); `cli`, `config`, `source`, `finetune` and `pipeline` are `tlc-compress`,
which applies them to finished training runs through the training engine.
"""
