"""train_large: train Transformers for a fixed wall-clock budget and record metric-vs-seconds curves.

Only `train_large.engine` imports fairseq (everything else goes through `build_engine`), and only
`train_large.wandb_sink` imports wandb. The public API, the only modules `compress/`, `sweeps/` and
`hydra_plugins/` may import (tests/unit/test_public_api.py):

- `core`: the console shell of every `tlc-*` command (`core.shell`), finding a source run
  (`core.source_run`), and what every run writes about itself (`core.run_records`);
- `config`, `run_names`, `runtime`: the typed config, run identity, and the device, precision,
  workers and processes a run resolves once on its machine (a frozen `Runtime`);
- `rundir`, `sinks`, `checkpoint`, `outputs`: run directories, records and their sinks,
  checkpoints and saved outputs;
- `clock`, `loop`, `schedule`, `evaluate`, `engine`, `data`: the training clock, the budgeted
  loop's progress, learning-rate schedules, evaluation, the fairseq engine and datasets;
- `wandb_sink`: the W&B sink's mode rules (`resolve_mode`);
- `console`: what a job shows on the terminal (`FILE_ONLY`: for the run's log file only).

Everything else (the entry modules `cli` and `run`, pre-flight, launch and lock helpers) is private.
"""
