"""Bad input and a crashing run through the real commands: what the terminal shows.

A subset of the bad-config table (tests/unit/test_bad_configs.py), one row per kind of check, run as
real `tlc-train`/`tlc-compress` processes: exit status 2, exactly one line on stderr naming the
setting, and no traceback. A run that crashes inside training exits 1 with one line naming its run
directory and log file, and the traceback is in that log file only. The same crash in a multirun is
recorded for each job and ends the sweep without a traceback. The processes start together (each
spends its seconds importing torch), so the module costs about as much as its slowest one.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env
from tests.unit.test_compress_config import fake_source
from tests.unit.test_pretrained import pretraining_run

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CASES = {  # id: (command, arguments, expected exit status, text the one stderr line holds)
    "added key": ("tlc-train", ["+foo=bar"], 2, "tlc-train: error: foo is not a setting (top level has:"),
    "launcher choice": ("tlc-train", ["hydra/launcher=nope"], 2,
                        "tlc-train: error: hydra/launcher=nope is not a known launcher; choose one of: basic"),
    "launcher value": ("tlc-train", ["-m", "hydra/launcher=gpus", "hydra.launcher.gpus_per_job=-1"], 2,
                       "tlc-train: error: hydra.launcher.gpus_per_job=-1 must be >= 0"),
    "foreign sweep": ("tlc-train", ["-m", "+sweep=toy_prune"], 2,
                      "tlc-train: error: sweep=toy_prune sets compression, which this command has no config group"),
    "init_from architecture": ("tlc-train", ["task=toy_cls", "init_from=<pretrain>", "model.width=256"], 2,
                               "tlc-train: error: model.width=256 disagrees with init_from=<pretrain>"),
    "compression typo": ("tlc-compress", ["source=<source>", "compression=prune", "compression.sparsityy=0.5"], 2,
                         "tlc-compress: error: compression.sparsityy is not a setting; did you mean "
                         "compression.sparsity?"),
    # prepared.json is there, so the run starts; fairseq then finds no dictionary in bin/
    "crash": ("tlc-train", ["task=translation", "task.data_dir=<broken>", "model.width=32", "model.depth=1"], 1,
              "tlc-train: error: FileNotFoundError: [Errno 2] No such file or directory: '<broken>/bin/dict.en.txt' "
              "(run <runs>/default/depth=1,width=32,task=translation,data_dir=<broken_name>; "
              "traceback in its train.log)"),
}
# The same crash in both jobs of a multirun: each is recorded, and the sweep ends without a traceback.
SWEEP_CRASH = ("tlc-train", ["-m", "task=translation", "task.data_dir=<broken>", "model.width=32,48", "model.depth=1",
                             "experiment=sweep"])


def broken_dataset(root: Path) -> Path:
    """A data dir whose prepared.json is complete but whose binarized files are missing."""
    data_dir = root / "broken"
    (data_dir / "bin").mkdir(parents=True)
    (data_dir / "prepared.json").write_text(json.dumps({
        "kind": "translation", "source_lang": "en", "target_lang": "fr", "vocab_size": 16,
        "lines": {"train": 1, "valid": 1, "test": 1}}))
    return data_dir


@pytest.fixture(scope="module")
def terminals(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, dict[str, str]]]:
    """Every case's finished process, all started at once, and the paths its placeholders stand for."""
    root = tmp_path_factory.mktemp("cli")
    broken = broken_dataset(root / "data")
    paths = {"<pretrain>": str(pretraining_run(root / "mlm")), "<source>": str(fake_source(root / "src")),
             "<broken>": str(broken), "<broken_name>": str(broken).replace("/", "_"), "<runs>": str(root / "runs")}

    def fill(text: str) -> str:
        for placeholder, value in paths.items():
            text = text.replace(placeholder, value)
        return text

    commands = {case: (command, args) for case, (command, args, _, _) in CASES.items()}
    commands["sweep crash"] = SWEEP_CRASH
    started = {case: subprocess.Popen([str(BIN / command), *map(fill, args), "logger=none"], cwd=root,
                                      env=subprocess_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
               for case, (command, args) in commands.items()}
    finished = {}
    for case, proc in started.items():
        out, err = proc.communicate(timeout=300)
        finished[case] = (subprocess.CompletedProcess(proc.args, proc.returncode, out, err), paths)
    return finished


@pytest.mark.parametrize("case", CASES)
def test_the_terminal_shows_one_line_and_no_traceback(terminals, case):
    proc, paths = terminals[case]
    _, _, status, expected = CASES[case]
    for placeholder, value in paths.items():
        expected = expected.replace(placeholder, value)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == status, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(expected), proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_crash_leaves_its_traceback_in_the_run_log(terminals):
    proc, paths = terminals["crash"]
    (run_dir,) = Path(paths["<runs>"], "default").iterdir()
    log = (run_dir / "train.log").read_text()
    assert "Traceback (most recent call last)" in log and "FileNotFoundError" in log
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_crash_in_a_multirun_is_recorded_for_each_job_without_a_traceback(terminals):
    proc, paths = terminals["sweep crash"]
    sweep_dir = Path(paths["<runs>"], "sweep")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    outcomes = [json.loads(line) for line in (sweep_dir / "outcomes.jsonl").read_text().splitlines()]
    assert [o["status"] for o in outcomes] == ["failed", "failed"]
    for outcome in outcomes:
        assert outcome["error"].startswith("FileNotFoundError: ") and outcome["error"].endswith(
            "(traceback in its train.log)")
        assert "Traceback (most recent call last)" in (sweep_dir / outcome["run"] / "train.log").read_text()
    assert f"sweep {sweep_dir}: 0 finished, 0 skipped, 2 failed" in proc.stderr
