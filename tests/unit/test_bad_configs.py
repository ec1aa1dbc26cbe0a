"""The bad-config table: every config group of `tlc-train` and `tlc-compress`, one malformed input per
row, each refused before Hydra starts with exactly one line that names the setting and what is allowed.

Rows go through `command_line_problems`, the function `main()` runs before anything else, so this is
what the terminal would show (tests/e2e/test_bad_configs_cli.py runs a subset as real commands).
`<name>` in a row stands for a run directory built by the `runs` fixture.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from compress.cli import COMPRESS as compress_cli
from tests.unit.test_compress_config import fake_source
from tests.unit.test_pretrained import pretraining_run
from train_large.cli import TRAIN as train_cli

TRAIN = [
    # task
    ("task=wmt15", "task=wmt15 is not a known task; choose one of: mnli, roberta_mlm"),
    ("task.kind=regression", "task.kind='regression' is not allowed; choose one of: translation, masked_lm"),
    ("task.naem=x", "task.naem is not a setting; did you mean task.name?"),
    ("task.eval.lenpen=abc", "task.eval.lenpen: Value 'abc' of type 'str' could not be converted to Float"),
    ("task.eval.max_len_a=-1", "task.eval.max_len_a=-1.0 must be >= 0"),
    ("task=toy_mlm task.mask_prob=1.5", "task.mask_prob=1.5 must be in (0, 1)"),
    ("task=toy_mlm task.tokens_per_sample=1024", "task.tokens_per_sample=1024 exceeds model.max_positions=512"),
    ("task=wmt14_en_fr", "task.data_dir=<data>/wmt14_en_fr is not a prepared dataset (no prepared.json); "
                         "prepare it with: TLC_DATA_ROOT=<data> ./scripts/prepare_wmt14_en_fr.sh"),
    ("task=translation task.data_dir=<nowhere>", "task.data_dir=<nowhere> is not a prepared dataset"),
    # model
    ("model.widht=64", "model.widht is not a setting; did you mean model.width?"),
    ("+model.widht=64", "model.widht is not a setting; did you mean model.width?"),
    ("model.width=abc", "model.width: Value 'abc' of type 'str' could not be converted to Integer"),
    ("model.width=null", "model.width=null is not allowed; give it a value"),
    ("model.width=-64", "model.width=-64 must be > 0"),
    ("model=roberta", "model.arch=roberta cannot train task.kind=translation; use model=transformer"),
    ("model=lstm", "model=lstm is not a known model; choose one of: roberta, transformer"),
    # optim
    ("optim.lr=0", "optim.lr=0.0 must be > 0"),
    ("optim.betas=[0.9]", "optim.betas=[0.9] must be two numbers in [0, 1)"),
    ("optim.weight_decay=-1", "optim.weight_decay=-1.0 must be >= 0"),
    ("optim.update_freq=0", "optim.update_freq=0 must be > 0 (or null to derive it)"),
    ("optim.batch_size=100 optim.device_batch_size=32 optim.update_freq=1",
     "optim.batch_size=100 needs optim.update_freq >= 4 at optim.device_batch_size=32, not 1"),
    ("optim=sgd", "optim=sgd is not a known optim; choose one of: adam, finetune"),
    ("optim.schedule=budget optim.decay=step", "optim.decay='step' is not allowed; choose one of: linear, cosine"),
    ("optim.schedule=budget optim.warmup_fraction=1", "optim.warmup_fraction=1.0 must be in [0, 1)"),
    # budget
    ("budget.train_seconds=abc", "budget.train_seconds: Value 'abc' of type 'str' could not be converted to Float"),
    ("budget.max_updates=-5", "budget.max_updates=-5 must be > 0"),
    ("budget.train_secs=5", "budget.train_secs is not a setting; did you mean budget.train_seconds?"),
    # logger
    ("logger.wandb=maybe", "logger.wandb: Value 'maybe' is not a valid bool"),
    ("logger=tensorboard", "logger=tensorboard is not a known logger; choose one of: none, wandb"),
    ("logger.projet=x", "logger.projet is not a setting; did you mean logger.project?"),
    # top-level keys
    ("+foo=bar", "foo is not a setting (top level has: budget, compile, device, experiment"),
    ("~seed", "~seed deletes a setting every run reads; give it a value instead (seed=...)"),
    ("+seed=3", "+seed: seed is already a setting; drop the + (seed=...)"),
    ("seed=-1", "seed=-1 must be in 0..4294967295"),
    ("device=tpu", "device='tpu' is not allowed; choose one of: auto, cpu, cuda"),
    ("num_workers=-1", "num_workers=-1 must be >= 0"),
    ("world_size=0", "world_size=0 must be > 0"),
    ("experiment=a/b", "experiment='a/b' must be a folder name"),
    ("model.width", "cannot parse the overrides: Error parsing override 'model.width'"),
    # init_from: a source run that does not exist, is not a pretraining run, or disagrees
    ("task=toy_cls init_from=<nowhere>", "init_from=<nowhere> does not exist; give a pretraining run directory"),
    ("task=toy_cls init_from=<translation>", "init_from=<translation> is a task.kind=translation run"),
    ("task=toy_cls init_from=<pretrain> model.width=256",
     "model.width=256 disagrees with init_from=<pretrain>, which was trained with model.width=128"),
    ("init_from=<pretrain>", "init_from is for fine-tuning, but task.kind=translation"),
    ("task=toy_cls init_from=<nowhere>/depth=1,width=32",
     "init_from=<nowhere>/depth=1,width=32 does not exist; give a pretraining run directory"),
    # sweep files and +sweep=
    ("sweep=toy_mt_width", "sweep is not chosen by default, so it cannot be replaced; add it with +sweep=toy_mt_width"),
    ("-m +sweep=nope", "sweep=nope is not a known sweep; choose one of: batch_size, demo"),
    ("-m +sweep=toy_prune", "sweep=toy_prune sets compression, which this command has no config group for"),
    ("-m +sweep=toy_mt_width model.width=abc", "model.width: Value 'abc' of type 'str' could not be converted"),
    ("-m source_sweep=<nowhere>", "source_sweep=<nowhere> does not exist; give a sweep directory"),
    ("source_sweep=<unfinished_sweep>", "source_sweep expands to one job per finished run; add -m (multirun)"),
    ("-m source_sweep=<unfinished_sweep>", "source_sweep=<unfinished_sweep> has no finished runs (1 unfinished)"),
    # hydra/launcher
    ("-m hydra/launcher=nope", "hydra/launcher=nope is not a known launcher; choose one of: basic, gpus"),
    ("-m hydra/launcher=gpus hydra.launcher.gpus_per_job=-1", "hydra.launcher.gpus_per_job=-1 must be >= 0"),
    ("-m hydra/launcher=gpus hydra.launcher.cpus_slots=2",
     "hydra.launcher.cpus_slots is not a setting; did you mean hydra.launcher.cpu_slots?"),
    ("-m hydra/launcher=slurm hydra.launcher.mem_gb=abc", "hydra.launcher.mem_gb: Value 'abc' of type 'str'"),
    ("-m hydra/launcher=slurm hydra.launcher.timeout_min=0", "hydra.launcher.timeout_min=0 must be >= 1"),
    ("hydra.run.dirr=x", "hydra.run.dirr is not a setting; did you mean hydra.run.dir?"),
    # paths
    ("paths.runs_root=<blocker>/runs", "paths.runs_root=<blocker>/runs cannot hold run directories: <blocker> is "
                                       "not a folder; set paths.runs_root (or TLC_RUNS_ROOT) to a writable folder"),
]

COMPRESS = [
    ("source=<source> compression=foo", "compression=foo is not a known compression; choose one of: none, prune"),
    ("source=<source> compression.sparsityy=0.5",
     "compression.sparsityy is not a setting; did you mean compression.sparsity?"),
    ("source=<source> compression=prune compression.sparsity=abc", "compression.sparsity: Value 'abc'"),
    ("source=<source> logger.mode=loud", "logger.mode='loud' is not allowed"),
    ("source=<source> experiment=", "experiment='' must be a folder name"),
    ("source=<source> +foo=1", "foo is not a setting (top level has: compression, device"),
    ("source=<source> paths.runs_root=<blocker>", "paths.runs_root=<blocker> cannot hold run directories"),
    ("compression=prune compression.sparsity=0.5", "source is not set; give a finished tlc-train run directory"),
    ("source=<nowhere> compression=prune", "source=<nowhere> does not exist; give a finished tlc-train run"),
    ("source=<nowhere>/width=8 compression=prune", "source=<nowhere>/width=8 does not exist; give a finished"),
    ("source=<unfinished> compression=prune", "source=<unfinished> has no finished run (no complete result.json)"),
    ("source=<compressed> compression=prune", "source=<compressed> is a tlc-compress run; give the training run"),
    ("-m source_sweep=<nowhere> compression=prune", "source_sweep=<nowhere> does not exist"),
    ("-m source=<source> +sweep=toy_mt_width", "sweep=toy_mt_width sets task, which this command has no config"),
    ("-m source=<source> hydra/launcher=slurm hydra.launcher.nodes=0", "hydra.launcher.nodes=0 must be >= 1"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Run directories the rows name: sources that exist, are unfinished, of the wrong kind, or not there."""
    root = tmp_path_factory.mktemp("bad_configs")
    unfinished = fake_source(root / "unfinished", finished=False)
    (root / "blocker").write_text("a file where a folder should be\n")
    return {"data": root / "data", "nowhere": root / "nowhere", "pretrain": pretraining_run(root / "mlm"),
            "translation": pretraining_run(root / "mt", kind="translation"), "source": fake_source(root / "src"),
            "unfinished": unfinished, "unfinished_sweep": unfinished.parent,
            "compressed": fake_source(root / "compressed", compressed=True), "blocker": root / "blocker"}


def fill(text: str, runs: dict[str, Path]) -> str:
    for name, path in runs.items():
        text = text.replace(f"<{name}>", str(path))
    return text


def only_problem(cli, row: str, runs: dict[str, Path], monkeypatch) -> str:
    monkeypatch.setenv("TLC_DATA_ROOT", str(runs["data"]))
    monkeypatch.setenv("TLC_RUNS_ROOT", str(runs["data"].parent / "runs"))
    _, _, problems = cli.command_line_problems(fill(row, runs).split(" "))
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    return problems[0]


@pytest.mark.parametrize("row,expected", TRAIN, ids=[row for row, _ in TRAIN])
def test_tlc_train_refuses_each_bad_input_in_one_line(row, expected, runs, monkeypatch):
    assert fill(expected, runs) in only_problem(train_cli, row, runs, monkeypatch)


@pytest.mark.parametrize("row,expected", COMPRESS, ids=[row for row, _ in COMPRESS])
def test_tlc_compress_refuses_each_bad_input_in_one_line(row, expected, runs, monkeypatch):
    assert fill(expected, runs) in only_problem(compress_cli, row, runs, monkeypatch)


@pytest.mark.parametrize("row", ["model.width=64 budget.train_seconds=5", "-m +sweep=toy_mt_width",
                                 "task=toy_cls init_from=<pretrain>",
                                 "-m hydra/launcher=gpus hydra.launcher.cpu_slots=2 model.width=32,64"])
def test_good_command_lines_pass(row, runs, monkeypatch):
    monkeypatch.setenv("TLC_DATA_ROOT", str(runs["data"]))
    assert train_cli.command_line_problems(fill(row, runs).split(" "))[2] == []
