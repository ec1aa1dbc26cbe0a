"""Hydra launcher plugins of this project (found by Hydra in the `hydra_plugins` namespace).

- `gpu_launcher`: `hydra/launcher=gpus`, a sweep fanned out over local GPUs or CPU slots with Ray.
- `outcomes`: what became of each job, and the summary printed after a sweep.
- `slurm_launcher`: `hydra/launcher=slurm`, hydra-submitit-launcher's SLURM launcher that shows
  its jobs' states (from squeue) while it waits, and stops in one line when sbatch refuses.
- `job_states`: the "N jobs: a pending (Reason), b running, ..." lines both launchers print.
- `ray_resources`: whether one node of a Ray cluster can hold one job, and what a stalled one waits for.

Modules here must stay cheap to import (Hydra imports them on every start, and runs each module
it finds, so those with a leading underscore are the ones it skips): Ray is imported only by
`_ray_launch` and `_ray_wait`, submitit only by `_slurm_launch` (with `_slurm_queue`), when a
sweep is launched.
"""
