"""The prepare section: `tlc-prepare`'s throughput and peak memory on corpora of a million lines,
and the time they project for WMT14 En-Fr and a 16 GB pretraining corpus on a 16-core node.

The corpora repeat and shuffle the toy generators' text (train_large.data.toy_mt and toy_text), so
every machine measures the same thing. Each preparation is its own process, run as `tlc-prepare`
runs: its stages' seconds come from its log lines, its peak memory and its largest worker's from
getrusage. Translation runs with one worker and with every core, so each stage's serial and
parallel parts can be told apart (t(w) = serial + parallel / w, Amdahl's law), and so does the
masked-LM preparation; the projection takes them to 16 workers, the lines scaled linearly except
sentencepiece's training, whose sample is capped. Must not import torch or fairseq: the
preparations do.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import sys
from pathlib import Path

from .runs import Workspace, run_command
from .toy import Sizes

# The paper-scale targets (issue 20): WMT14 En-Fr's sentence pairs and RoBERTa's pretraining text.
WMT14_PAIRS = 40_800_000
CORPUS_BYTES = 16 * 10**9
NODE_CORES = 16
SPM_SAMPLE = 2_000_000  # tlc-prepare's --max-spm-sentences default: sentencepiece trains on at most this many lines
UNIQUE_PAIRS = 50_000  # distinct toy pairs the translation corpus repeats
# A stage's log line ends with its seconds: "normalised 6 files into ... (3.2 s)".
STAGE = re.compile(r" INFO (checked|normalised|trained sentencepiece|encoded|binarized)\b.*\((\d+(?:\.\d+)?) s\)$")
STAGES = {"checked": "check", "normalised": "normalise", "trained sentencepiece": "sentencepiece",
          "encoded": "encode", "binarized": "binarize"}
# The stages --workers runs in parallel, by kind (masked LM: its normalisation's per-line part; the
# documents are then made in one process). The others run in one process (sentencepiece's training
# on its fixed 4 threads), so a difference between two runs is noise, not a parallel share. Each
# kind runs with one worker and with every core, for its own split of each stage.
PARALLEL = {"translation": ("normalise", "encode", "binarize"), "mlm": ("normalise", "encode", "binarize")}
# Runs tlc-prepare's main in this process, then prints its own peak memory and its largest worker's.
MEASURED = """import json, resource, sys
from train_large.data import cli
code = cli.main(sys.argv[1:])
peak = {name: resource.getrusage(who).ru_maxrss / 1024 for name, who in
        (("peak_mib", resource.RUSAGE_SELF), ("worker_peak_mib", resource.RUSAGE_CHILDREN))}
print("PEAK", json.dumps(peak))
sys.exit(code)
"""


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    from train_large.data.prepare import available_cores

    root = space.root / "prepare"
    workers = available_cores()
    translation = translation_corpus(root, sizes.prepare_lines)
    quarter = translation_corpus(root, sizes.prepare_lines // 4)
    mlm = mlm_corpus(root, sizes.prepare_lines)
    pairs = ["translation", "--src", "en", "--tgt", "fr", "--raw-dir"]
    one, every = (prepare(space, [*pairs, str(translation)], sizes.prepare_lines, w) for w in (1, workers))
    # Peak memory at a quarter and all of the pairs, with one sentencepiece sample size: its
    # training holds its sample (up to --max-spm-sentences lines), the other stages stream.
    sample = ["--max-spm-sentences", str(sizes.prepare_lines // 10)]
    small, large = (prepare(space, [*pairs, str(raw), *sample], lines, workers)
                    for raw, lines in ((quarter, sizes.prepare_lines // 4), (translation, sizes.prepare_lines)))
    text_one, text = (prepare(space, ["mlm", "--raw-dir", str(mlm)], sizes.prepare_lines, w) for w in (1, workers))
    parts = {"translation": stage_parts(one, every, workers), "mlm": stage_parts(text_one, text, workers)}
    corpus = {"translation_pairs": sizes.prepare_lines,
              "bytes_per_pair": bytes_per_line(translation, "train.en", "train.fr"),
              "mlm_lines": sizes.prepare_lines, "mlm_bytes_per_line": bytes_per_line(mlm, "train.txt")}
    shutil.rmtree(root / "out", ignore_errors=True)
    return {"workers": workers, "corpus": corpus, "translation": [one, every], "memory": [small, large],
            "mlm": [text_one, text], "stage_parts": parts,
            "speedup": {"binarize": one["stages"]["binarize"] / every["stages"]["binarize"],
                        "encode": one["stages"]["encode"] / every["stages"]["encode"],
                        "total": one["seconds"] / every["seconds"]},
            "peak_growth": large["peak_mib"] / small["peak_mib"],
            "projection": {"cores": NODE_CORES,
                           "wmt14_en_fr": project(every, parts["translation"], WMT14_PAIRS, workers,
                                                  corpus["bytes_per_pair"]),
                           "corpus_16gb": project(text, parts["mlm"], CORPUS_BYTES / corpus["mlm_bytes_per_line"],
                                                  workers, corpus["mlm_bytes_per_line"])}}


def translation_corpus(root: Path, pairs: int) -> Path:
    """raw/{train,valid,test}.{en,fr}: `pairs` train pairs repeated and shuffled from the toy pairs."""
    from train_large.data.toy_mt import write_toy_corpus

    raw = root / f"translation-{pairs}"
    if (raw / "test.fr").exists():
        return raw
    source = root / "toy_mt"
    if not (source / "test.fr").exists():
        write_toy_corpus(source, train=UNIQUE_PAIRS)
    raw.mkdir(parents=True, exist_ok=True)
    english, french = ((source / f"train.{lang}").read_text(encoding="utf-8").splitlines() for lang in ("en", "fr"))
    order = [index % len(english) for index in range(pairs)]
    random.Random(0).shuffle(order)
    for lang, lines in (("en", english), ("fr", french)):
        (raw / f"train.{lang}").write_text("".join(lines[i] + "\n" for i in order), encoding="utf-8")
        for split in ("valid", "test"):
            shutil.copyfile(source / f"{split}.{lang}", raw / f"{split}.{lang}")
    return raw


def mlm_corpus(root: Path, lines: int) -> Path:
    """raw/{train,valid,test}.txt: toy documents, repeated and shuffled to at least `lines` train lines."""
    from train_large.data.toy_text import write_toy_mlm_corpus

    raw = root / f"mlm-{lines}"
    if (raw / "test.txt").exists():
        return raw
    write_toy_mlm_corpus(raw)
    documents = (raw / "train.txt").read_text(encoding="utf-8").split("\n\n")
    sizes = [document.count("\n") + 1 for document in documents]
    order = [index % len(documents) for index in range(len(documents) * -(-lines // sum(sizes)))]
    random.Random(0).shuffle(order)
    (raw / "train.txt").write_text("\n\n".join(documents[i].strip("\n") for i in order) + "\n", encoding="utf-8")
    return raw


def bytes_per_line(raw: Path, *names: str) -> float:
    """Mean bytes of the text lines of `names` (a pair's two lines together for two files)."""
    text = [(raw / name).read_bytes() for name in names]
    lines = sum(1 for line in text[0].splitlines() if line.strip())
    return sum(len(data) - data.count(b"\n") for data in text) / lines


def prepare(space: Workspace, argv: list[str], lines: int, workers: int) -> dict:
    """One preparation into a fresh folder: wall seconds, each stage's seconds, peak memory."""
    out = space.root / "prepare" / "out"
    shutil.rmtree(out, ignore_errors=True)
    command = run_command([sys.executable, "-c", MEASURED, *argv, "--out", str(out), "--workers", str(workers)],
                          space.env, timeout=7200)
    stages = {STAGES[m[1]]: float(m[2]) for _, line in command.lines if (m := STAGE.search(line))}
    peak = next(json.loads(line[5:]) for _, line in command.lines if line.startswith("PEAK "))
    # sentencepiece samples a translation's lines of both languages, two per pair
    spm_per_line = 2 if argv[0] == "translation" else 1
    cap = int(argv[argv.index("--max-spm-sentences") + 1]) if "--max-spm-sentences" in argv else SPM_SAMPLE
    return {"kind": argv[0], "lines": lines, "spm_lines": min(lines * spm_per_line, cap), "spm_per_line": spm_per_line,
            "workers": workers, "seconds": command.seconds, "stages": stages,
            "lines_per_second": lines / command.seconds, **peak}


def stage_parts(one: dict, every: dict, workers: int) -> dict:
    """Each stage's serial and parallel seconds from a run with one worker and one with `workers`;
    all serial for a stage that runs in one process whatever the workers."""
    return {stage: split_stage(one["stages"][stage], every["stages"][stage],
                               workers if stage in PARALLEL[one["kind"]] else 1) for stage in STAGES.values()}


def split_stage(one: float, every: float, workers: int) -> dict:
    """A stage's seconds with one worker and with `workers`, as serial + parallel / w (Amdahl); a
    stage that got no faster is all serial, one that more than scaled all parallel. With one
    worker, all serial."""
    if workers == 1:
        return {"serial": one, "parallel": 0.0}
    parallel = min(max((one - every) * workers / (workers - 1), 0.0), one)
    return {"serial": one - parallel, "parallel": parallel}


def project(measured: dict, parts: dict, lines: float, workers: int, bytes_per_line: float) -> dict:
    """Seconds to prepare `lines` on NODE_CORES workers, from a run with `workers`: each stage's
    serial and parallel `parts` (stage_parts of the same kind) scaled to the lines and the workers."""
    seconds = {}
    for stage, taken in measured["stages"].items():
        share = parts[stage]
        at_workers = share["serial"] + share["parallel"] / workers
        at_node = share["serial"] + share["parallel"] / NODE_CORES
        scale = lines / measured["lines"]
        if stage == "sentencepiece":
            scale = min(lines * measured["spm_per_line"], SPM_SAMPLE) / measured["spm_lines"]
        seconds[stage] = taken * scale * (at_node / at_workers if at_workers else 1.0)
    total = sum(seconds.values())
    # at the toy text's line length; a corpus of longer lines takes about its bytes x seconds_per_gb
    gigabytes = lines * bytes_per_line / 1e9
    return {"lines": lines, "gigabytes": gigabytes, "seconds": total, "hours": total / 3600,
            "seconds_per_gb": total / gigabytes, "stages": seconds}
