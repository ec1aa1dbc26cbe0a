"""Hydra launcher plugins of this project, found by Hydra in the `hydra_plugins` namespace:
`hydra/launcher=gpus` (gpu_launcher, on Ray) and `hydra/launcher=slurm` (slurm_launcher, on submitit).

Hydra imports and runs every module here on each start, except those with a leading underscore, so
the others stay cheap to import: Ray and submitit are imported only by `_ray_launch` and
`_slurm_launch`, when a sweep is launched.
"""
