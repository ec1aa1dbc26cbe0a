"""Hydra launcher plugins of this project (found by Hydra in the `hydra_plugins` namespace).

- `gpu_launcher`: `hydra/launcher=gpus`, a sweep fanned out over local GPUs or CPU slots with Ray.
- `outcomes`: what became of each job, and the summary printed after a sweep.

The SLURM preset (`hydra/launcher=slurm`) is configuration only: conf/hydra/launcher/slurm.yaml
over hydra-submitit-launcher. Modules here must stay cheap to import (Hydra imports them on
every start); Ray is imported only by `_ray_launch`, when a sweep is launched.
"""
