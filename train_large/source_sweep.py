"""Multi-stage sweeps: `source_sweep=<sweep dir>` becomes, on the command line before Hydra, a sweep
over the finished runs in it (fine-tuning's `init_from`, compression's `source`), each run directory
quoted for Hydra's parser (run names hold `=` and `,`). Unfinished runs are listed and skipped, never
silently dropped. Must not import fairseq or wandb.
"""
from __future__ import annotations

from pathlib import Path

from .rundir import read_result

KEY = "source_sweep"


class SourceSweepError(ValueError):
    """A bad `source_sweep`, in one line."""


def finished_runs(sweep_dir: Path) -> tuple[list[Path], list[Path]]:
    """(finished, unfinished) run directories directly under a sweep directory, sorted by name."""
    finished, unfinished = [], []
    for run_dir in sorted(p for p in Path(sweep_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not any((run_dir / name).exists() for name in ("metrics.jsonl", "checkpoints", ".hydra")):
            continue  # not a run directory (a launcher's log folder, say)
        try:
            done = read_result(run_dir) is not None
        except ValueError:
            done = False  # an unreadable result.json is not a finished run
        (finished if done else unfinished).append(run_dir)
    return finished, unfinished


def expand(argv: list[str], target_key: str) -> tuple[list[str], list[str]]:
    """argv with `source_sweep=DIR` replaced by `target_key=<run>,<run>,...`, and notes to print.

    Raises:
        SourceSweepError: not a multirun, the directory is missing, or nothing in it has finished.
    """
    given = [arg for arg in argv if arg.startswith(f"{KEY}=")]
    if not given:
        return argv, []
    sweep_dir = Path(given[-1].partition("=")[2].strip("'\"")).expanduser()
    if "-m" not in argv and "--multirun" not in argv:
        raise SourceSweepError(f"{KEY} expands to one job per finished run; add -m (multirun)")
    if not sweep_dir.is_dir():
        raise SourceSweepError(f"{KEY}={sweep_dir} does not exist; give a sweep directory "
                               "(runs/<experiment>) whose runs have finished")
    finished, unfinished = finished_runs(sweep_dir)
    if not finished:
        raise SourceSweepError(f"{KEY}={sweep_dir} has no finished runs ({len(unfinished)} unfinished); "
                               "let them finish (re-run their sweep command) first")
    runs = ",".join(f"'{run_dir.resolve()}'" for run_dir in finished)
    rest = [arg for arg in argv if not arg.startswith(f"{KEY}=")]
    notes = [f"{KEY}: {len(finished)} finished run(s) in {sweep_dir}",
             *(f"{KEY}: skipping unfinished run {run_dir}" for run_dir in unfinished)]
    return [*rest, f"{target_key}={runs}"], notes


def quote_run_dirs(argv: list[str], keys: tuple[str, ...] = ("init_from", "source")) -> list[str]:
    """Quote `key=<run dir>` values for Hydra's parser, which rejects the `=` and `,` in run names:
    existing directories, and values holding `=` (a run name: quoted, a mistyped one is reported as a
    run that does not exist). Sweeps (`a,b`) and quoted values pass through."""
    quoted = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if (sep and key.lstrip("+~") in keys and value[:1] not in ("'", '"')
                and ("=" in value or Path(value).expanduser().is_dir())):
            arg = f"{key}='{value}'"
        quoted.append(arg)
    return quoted
