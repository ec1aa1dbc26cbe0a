"""The Performance table of docs/performance.md is what scripts/render_performance.py renders from
the committed results in scripts/results/, each row names the file it comes from, and a goal reads
"met" only when the figure's whole 95% interval clears it (scripts/bench/stats.py)."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.conftest import REPO


@pytest.fixture
def scripts(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import render_performance

    from scripts.bench import stats as bench_stats

    return render_performance, bench_stats


def test_performance_page_table_is_rendered_from_the_committed_results(scripts):
    render_performance, _ = scripts
    page = (REPO / "docs" / "performance.md").read_text()
    assert render_performance.block(page) == render_performance.render(), (
        "docs/performance.md's Performance table differs from scripts/results/: run python scripts/render_performance.py")


def test_every_row_names_a_committed_result_file(scripts):
    render_performance, _ = scripts
    rows = [line for line in render_performance.render().splitlines() if line.startswith("| ")][1:]
    assert rows
    for row in rows:
        source = row.rstrip(" |").rsplit("|", 1)[-1]
        named = re.search(r"`(scripts/results/[\w.-]+\.json)`", source)
        assert named and (REPO / named[1]).is_file(), row


def test_check_fails_when_a_committed_figure_changes(scripts, tmp_path):
    render_performance, _ = scripts
    results, page = tmp_path / "results", tmp_path / "performance.md"
    shutil.copytree(render_performance.RESULTS, results)
    page.write_text(f"# x\n{render_performance.BEGIN}\nold\n{render_performance.END}\ntail\n")
    assert render_performance.main(["--check", "--results", str(results), "--page", str(page)]) == 1
    assert render_performance.main(["--results", str(results), "--page", str(page)]) == 0
    assert render_performance.main(["--check", "--results", str(results), "--page", str(page)]) == 0
    assert page.read_text().endswith(f"{render_performance.END}\ntail\n")

    cpu = results / render_performance.CPU
    result = json.loads(cpu.read_text())
    result["sections"]["overhead"]["ratio"]["mean"] += 0.01
    cpu.write_text(json.dumps(result))
    assert render_performance.main(["--check", "--results", str(results), "--page", str(page)]) == 1


def test_t_interval_of_the_mean(scripts):
    _, bench_stats = scripts
    e = bench_stats.interval([1.0, 2.0, None, 3.0])  # sd 1, t(0.975, 2 df) = 4.303
    assert (e["mean"], e["n"], e["min"], e["max"]) == (2.0, 3, 1.0, 3.0)
    assert e["low"] == pytest.approx(2 - 4.3027 / 3**0.5, abs=1e-3)
    assert e["high"] == pytest.approx(2 + 4.3027 / 3**0.5, abs=1e-3)
    assert bench_stats.interval([5.0])["low"] is None
    with pytest.raises(ValueError):
        bench_stats.interval([None])


@pytest.mark.parametrize("values, goal, expected", [
    # the README's former overhead figure: a median of 1.005 with pairs from 0.99 to 1.12
    ([0.99, 1.0, 1.005, 1.03, 1.12], ("<=", 1.01), "not shown"),
    ([1.001, 1.002, 1.003, 1.000, 1.004], ("<=", 1.01), "met"),
    ([1.0], ("<=", 1.01), "not shown"),  # measured once: no interval
    ([7.6, 7.9, 8.0], ("<", 10.0), "met"),
    ([9.0, 9.9, 9.5], ("<", 10.0), "not shown"),  # every value under the goal, the interval not
    ([0.0001, -0.0002, 0.0003], ("within", 0.01), "met"),
    ([0.009, -0.002, 0.012], ("within", 0.01), "not shown"),
    ([-0.987, -0.99, -0.985], ("beyond", 0.01), "met"),
    ([-0.02, 0.0, -0.03], ("beyond", 0.01), "not shown"),
])
def test_a_goal_is_met_only_when_the_whole_interval_clears_it(scripts, values, goal, expected):
    _, bench_stats = scripts
    assert bench_stats.verdict([(bench_stats.interval(values), goal)]) == expected


def test_the_fan_out_gap_is_each_later_run_start_less_the_end_that_freed_its_slot():
    from scripts.bench.fanout import slot_gaps

    # two slots: runs 0-10 and 1-12 fill them; 13-20 takes the slot freed at 10, 14-30 the one freed at 12
    assert slot_gaps([(1, 12), (0, 10), (14, 30), (13, 20)], 2) == [3, 2]
    assert slot_gaps([(0, 5), (0, 5)], 2) == []


def test_the_fan_out_ratio_counts_the_whole_command_against_the_jobs_on_their_slots():
    from scripts.bench.fanout import makespan_shares

    # a command from t=100 to t=125 ran two 10 s jobs on each of 2 slots, starting at 103
    shares = makespan_shares(25.0, 100.0, [(103, 113), (103, 113), (114, 124), (113.5, 123.5)], 2)
    assert shares["ratio"] == 25.0 / 20.0
    assert shares["jobs_only_ratio"] == 21.0 / 20.0
    assert shares["first_start_seconds"] == 3.0
    assert shares["job_gap_seconds"] == [0.5, 1.0]
    assert shares["after_last_seconds"] == 1.0
