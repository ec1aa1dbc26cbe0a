"""scripts/reproduce.sh end to end: `toy --quick` goes through every stage (four training sweeps,
compression, report) and gives each of the four claims a computed verdict, whichever way it comes
out; bad arguments are one line and exit 2 before anything is set up."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from sweeps.report.evidence import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.e2e

SCRIPT = str(REPO / "scripts" / "reproduce.sh")
HEADING = re.compile(r"^### (\d)\. .+: \*\*(.+?)\*\*", re.MULTILINE)  # a claim's heading in report.md
STAGES = ["width", "depth", "mlm_width", "batch", "compress", "report"]


def test_quick_toy_reproduction_gives_every_claim_a_computed_verdict(tmp_path, toy_root):
    env = subprocess_env(tmp_path)
    env["TLC_DATA_ROOT"] = str(toy_root / "data")  # the session's toy_mt data, generated once
    proc = subprocess.run([SCRIPT, "toy", "--quick"], env=env, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    report = tmp_path / "runs" / "repro_toy_quick_report"
    verdicts = dict(HEADING.findall((report / "report.md").read_text()))
    assert sorted(verdicts) == ["1", "2", "3", "4"]
    assert set(verdicts.values()) <= {SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE}, verdicts  # none "not enough data"
    printed = proc.stdout.splitlines()
    assert [line.split(" (")[0].strip() for line in printed[-4:]] == [f"claim {n}" for n in range(1, 5)]
    for stage in STAGES[:-1]:  # every job of every sweep finished, on this first run
        assert any(re.fullmatch(rf"  sweep .*/repro_toy_quick_{stage}: \d+ finished, 0 skipped, 0 failed", line)
                   for line in printed), stage
    record = json.loads((report / "run.json").read_text())
    assert record["command"] == "scripts/reproduce.sh toy --quick"
    assert list(record["stage_seconds"]) == STAGES and len(record["verdicts"]) == 4
    assert list((report / "figures").glob("*.png"))


@pytest.mark.parametrize(("args", "message"), [
    ([], "no mode given"),
    (["toys"], "unknown mode 'toys'; choose toy or tatoeba"),
    (["toy", "extra.tsv"], "unexpected argument 'extra.tsv'"),
    (["toy", "--fast"], "unknown option --fast"),
    (["tatoeba"], "the tatoeba mode needs a source<TAB>target file: give it as an argument or set TLC_TATOEBA_TSV"),
    (["tatoeba", "{tmp}/absent.tsv"], "{tmp}/absent.tsv: no such file"),
])
def test_bad_arguments_are_one_line_and_exit_2_before_any_work(tmp_path, args, message):
    env = subprocess_env(tmp_path)
    env.pop("TLC_TATOEBA_TSV", None)
    proc = subprocess.run([SCRIPT, *(a.format(tmp=tmp_path) for a in args)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message.format(tmp=tmp_path) in proc.stderr
    assert not Path(env["TLC_RUNS_ROOT"]).exists()  # nothing set up, nothing written


def test_the_tatoeba_file_can_come_from_the_environment(tmp_path):
    env = subprocess_env(tmp_path) | {"TLC_TATOEBA_TSV": str(tmp_path / "pairs.tsv")}
    proc = subprocess.run([SCRIPT, "tatoeba"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"reproduce.sh: error: TLC_TATOEBA_TSV={tmp_path / 'pairs.tsv'}: no such file (the " \
                          "tatoeba mode's source<TAB>target pairs)\n"
