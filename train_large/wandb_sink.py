"""The W&B sink, and a reader for the offline runs it writes.

Owns everything that touches Weights & Biases: `WandbSink` (one more sink behind the protocol in
`train_large.sinks`), `resolve_mode`, and `read_offline_run`/`read_offline_history`, which parse
the `.wandb` transaction log that an offline run leaves under `run_dir/wandb/` so tests can read
the curve back as an oracle. This is the only module that imports wandb, and it does so lazily
inside functions, so importing it costs nothing and works where wandb is missing. Must not import
fairseq or torch.

Dashboard conventions (README, "Results and reports"): besides the resolved config, every run carries
flat config keys the W&B UI can group and facet by (`dashboard_config`: sweep, job, width, depth,
batch, and for compression method, sparsity, bits, ratio), tags of the same (`dashboard_tags`), a
link to the run it came from (`source_run_id`, `source_run`, `source_dir`: the pretraining run of a
fine-tuning, the trained run of a compression), and in its summary the final figures and the best
value of every validation metric (`best/valid_<metric>`). Compression runs log `bytes` and `ratio`
as x-axes for their metrics.
"""
from __future__ import annotations

import json
import logging
import numbers
import os
import struct
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import config_id

MODES = ("auto", "online", "offline", "disabled")
# Logged without a split prefix: the x-axes (compression records carry bytes and ratio).
TOP_LEVEL_KEYS = ("train_seconds", "wall_seconds", "updates", "tokens", "flops", "bytes", "ratio")
SPLITS = ("train", "valid", "test")
# Validation metrics whose best value goes to the summary, and whether higher is better.
BEST_OF = {"bleu": True, "accuracy": True, "ppl": False, "loss": False, "nll_loss": False}
MAX_TAG_CHARS = 64  # W&B rejects longer tags
# How long close() waits for wandb-core to put the run's `.wandb` log on disk after run.finish().
# It normally takes milliseconds; the bound only matters if wandb-core is wedged or gone.
LOG_CLOSE_TIMEOUT_SECONDS = 60.0

log = logging.getLogger(__name__)


def resolve_mode(mode: str, environ: Mapping[str, str]) -> str:
    """Turns the configured mode into one wandb accepts: "auto" is online iff WANDB_API_KEY is set.

    Raises:
        ValueError: if `mode` is not one of MODES.
    """
    if mode not in MODES:
        raise ValueError(f"wandb mode {mode!r} is not one of {MODES}")
    if mode == "auto":
        return "online" if environ.get("WANDB_API_KEY") else "offline"
    return mode


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _source_config(source_dir: Path) -> dict:
    """The resolved config of a finished run (a compression's source), or {} if it cannot be read."""
    from .rundir import read_result

    try:
        result = read_result(source_dir)
    except (OSError, ValueError):
        return {}
    return (result or {}).get("config") or {}


def dashboard_config(config: Mapping[str, Any], job_type: str) -> dict:
    """Flat config keys the W&B UI can group and facet by, beside the nested resolved config.

    `sweep` (the experiment), `job`, `width`, `depth`, `batch` (sequences, or tokens when batches are
    token-limited) and `batch_unit`; a fine-tuning or compression run adds its source (`source_run_id`,
    the W&B id of that run; `source_run`, its name; `source_dir`) and takes width and depth from it;
    a compression run adds `method`, `sparsity`, `bits` (32 = fp32) and the target `ratio` when one was
    asked for (the achieved ratio is added when the run ends). The task stays nested (`task.name`); a
    compression run gets its source's `task` so both kinds share that key. Keys without a value are left out.
    """
    from .rundir import run_id

    flat: dict[str, Any] = {"sweep": config.get("experiment"), "job": job_type}
    model_config = config
    source = config.get("source") if job_type == "compress" else config.get("init_from")
    if source:
        source_dir = Path(str(source)).expanduser()
        flat.update(source_run_id=run_id(source_dir), source_run=source_dir.name, source_dir=str(source_dir))
        if job_type == "compress":
            model_config = _source_config(source_dir)
            task = model_config.get("task") or {}
            flat["task"] = {"name": task.get("name"), "kind": task.get("kind")}
    model, optim = model_config.get("model") or {}, model_config.get("optim") or {}
    flat.update(width=model.get("width"), depth=model.get("depth"))
    if optim.get("batch_size"):
        flat.update(batch=optim["batch_size"], batch_unit="sequences")
    elif optim.get("max_tokens"):
        flat.update(batch=optim["max_tokens"] * (optim.get("update_freq") or 1), batch_unit="tokens")
    compression = config.get("compression") if job_type == "compress" else None
    if compression:
        flat.update(method=compression.get("method"), sparsity=compression.get("sparsity"),
                    bits=compression.get("bits") or 32, ratio=compression.get("ratio"))
    return {key: value for key, value in flat.items() if value is not None}


def dashboard_tags(flat: Mapping[str, Any]) -> list[str]:
    """`key:value` tags from a config with `dashboard_config`'s keys (and the task's name): filters in
    the W&B UI. No sparsity tag for an unpruned model and no bits tag for fp32 weights."""
    task = flat.get("task", {}).get("name") if isinstance(flat.get("task"), Mapping) else None
    pairs = [("task", task), *((key, flat.get(key)) for key in ("sweep", "job", "width", "depth", "batch",
                                                                "method", "sparsity", "bits", "ratio")),
             ("source", flat.get("source_run"))]
    tags = [f"{key}:{value:g}" if _is_number(value) else f"{key}:{value}" for key, value in pairs
            if value is not None and value != "" and (key, value) not in (("sparsity", 0), ("bits", 32))]
    return [tag[:MAX_TAG_CHARS] for tag in tags]


class WandbSink:
    """Sends each record to a W&B run whose x-axis is `train_seconds`; step is `updates`."""

    def __init__(self, *, run_dir: Path, run_id: str, name: str, group: str, job_type: str,
                 project: str, entity: str | None, mode: str, tags: list[str], config: dict) -> None:
        import wandb

        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.mode = resolve_mode(mode, os.environ)
        # Only the curve matters here, so everything wandb probes or captures besides it is off:
        # offline init+finish went from 57-80 ms to 15 ms per run (after the first run in a process,
        # which starts wandb-core: about 0.5-0.8 s either way), and no system-metrics sampler runs.
        settings = wandb.Settings(
            console="off",  # the job's own log already holds stdout
            save_code=False,
            disable_code=True,
            disable_git=True,
            x_save_requirements=False,
            x_disable_stats=True,
            x_disable_meta=True,  # nvidia-smi, host and git probing at init
            x_disable_machine_info=True,
            init_timeout=120.0,  # seconds (default 90); a burst of array jobs can make the server slow
            quiet=True,
        )
        # "create_new" lets tests and Hydra multirun open one run after another in one process
        # without touching other runs; each sink finishes its own run in close().
        # Replicas (runs that differ only in seed) share config_id: group by it to average them.
        flat = {**dashboard_config(config, job_type), "config_id": config_id(name),
                **({"seed": config["seed"]} if config.get("seed") is not None else {})}
        self._run = wandb.init(
            project=project, entity=entity, id=run_id, resume="allow", name=name, group=group,
            job_type=job_type, tags=list(dict.fromkeys([*tags, *dashboard_tags({**config, **flat})])),
            config={**config, **flat}, dir=str(run_dir), mode=self.mode, reinit="create_new", settings=settings,
        )
        self._run.define_metric("train_seconds")
        for key in ("bytes", "ratio"):
            self._run.define_metric(key)
        # A compression run's valid and test metrics are one point each, at its size: plotted against
        # bytes. Its fine-tuning (train/*, prune/*) and every training run's curves are against train_seconds.
        by_size = job_type == "compress"
        for split in SPLITS:
            self._run.define_metric(f"{split}/*", step_metric="bytes" if by_size and split != "train" else
                                    "train_seconds")
        for key in ("wall_seconds", "updates", "tokens", "flops"):
            self._run.define_metric(key, step_metric="train_seconds")
        self._best: dict[str, float] = {}
        self._last_step = -1
        self._texts: dict[str, str] = {}
        # The run's transaction log, which close() waits for (no log when disabled).
        run_settings = self._run.settings
        self._log_path: Path | None = None
        if self.mode != "disabled" and not run_settings.x_skip_transaction_log:
            self._log_path = Path(run_settings.sync_file)

    def log(self, record: dict) -> None:
        kind = record.get("kind", "train")
        metrics: dict[str, float] = {}
        for key, value in record.items():
            if key == "kind":
                continue
            name = key if key in TOP_LEVEL_KEYS else f"{kind}/{key}"
            if _is_number(value):
                metrics[name] = value
            elif isinstance(value, str) and self._texts.get(name) != value:
                self._texts[name] = value  # e.g. the sacrebleu signature: one value per run, not a curve
                self._run.summary[name] = value
        if not metrics:
            return
        if kind == "valid":
            self._keep_best(record)
        # The W&B step is `updates`; records at the same update (train, then valid) share one row.
        # W&B drops a step below the last one, and a log without a step merges into the open row
        # (overwriting its train_seconds), so a step that goes back gets a fresh row after the last.
        updates = record.get("updates")
        step = int(updates) if _is_number(updates) else self._last_step + 1
        self._last_step = step if step >= self._last_step else self._last_step + 1
        self._run.log(metrics, step=self._last_step)

    def _keep_best(self, record: dict) -> None:
        for key, higher in BEST_OF.items():
            value = record.get(key)
            best = self._best.get(key)
            if _is_number(value) and (best is None or (value > best if higher else value < best)):
                self._best[key] = value
                self._run.summary[f"best/valid_{key}"] = value

    def summary(self, values: dict) -> None:
        self._run.summary.update(dict(values))
        # What a compression achieved is known only now: make it a config key and a tag as well, so
        # the UI groups and filters by it like by width.
        achieved = {key: values[key] for key in ("ratio", "bytes", "sparsity", "bits") if _is_number(values.get(key))}
        if achieved and "ratio" in achieved:
            self._run.config.update(achieved, allow_val_change=True)
            tag = f"ratio:{achieved['ratio']:.3g}"
            if tag not in self._run.tags:
                self._run.tags = (*self._run.tags, tag)

    def close(self) -> None:
        """Finishes the run and returns once its `.wandb` log is complete on disk.

        run.finish() returns once wandb-core has answered the exit record, but wandb-core's writer
        keeps the records it has not flushed yet (the tail of the current 32 KiB block) in memory and
        writes them only when the run's stream is closed, and finish() merely *publishes* that close
        (`inform_finish`, which has no reply) before returning. So right after finish() a small
        offline run's log can still be its bare 7-byte header, and a bigger one can lack its last
        rows, until wandb-core gets round to it: on a busy machine, after a reader (tests, `wandb
        sync`, the next sink) has looked. The exit record is the last record of a finished run's
        log, so close() waits until it can be read there. A log still incomplete after
        LOG_CLOSE_TIMEOUT_SECONDS is reported, not raised: W&B never stops training.
        """
        if self._run is not None:
            run, self._run = self._run, None
            run.finish()
            if self._log_path is not None and not wait_for_closed_log(self._log_path, LOG_CLOSE_TIMEOUT_SECONDS):
                log.warning("W&B log %s is still incomplete %.0f s after the run finished",
                            self._log_path, LOG_CLOSE_TIMEOUT_SECONDS)


# The `.wandb` file is a LevelDB-style log: a 7-byte file header, then 32 KiB blocks of chunks,
# each with a 7-byte header (CRC-32 of type+data, little-endian length, type). wandb 0.31 reads
# it only in Go (wandb-core), so this is a small Python reader for the same format.
_BLOCK_BYTES = 32 * 1024
_HEADER = struct.Struct("<IHB")
_FILE_HEADER = struct.Struct("<4sHB")
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _check_file_header(data: bytes, path: Path) -> None:
    if len(data) < _FILE_HEADER.size:
        raise ValueError(f"{path} is not a W&B transaction log (only {len(data)} bytes)")
    ident, magic, _version = _FILE_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path} is not a W&B transaction log")


def _records_from(data: bytes, pos: int, path: Path) -> Iterator[tuple[bytes, int]]:
    """Yields (record, offset just past it) for each whole record from the record boundary `pos`.

    The writer only ever appends, so what a reader sees of a file still being written is a prefix: it
    may end inside a chunk header, inside a chunk's data, or after the FIRST/MIDDLE chunks of a record
    whose LAST chunk is not there yet. Each of those ends the scan without yielding the partial record,
    and the offset of the last yielded record is where a later scan of the grown file can resume.
    """
    pending = b""
    while pos + _HEADER.size <= len(data):
        left_in_block = _BLOCK_BYTES - pos % _BLOCK_BYTES
        if left_in_block < _HEADER.size:  # the writer pads a block tail too short for a header
            pos += left_in_block
            continue
        checksum, length, kind = _HEADER.unpack_from(data, pos)
        start, end = pos + _HEADER.size, pos + _HEADER.size + length
        if kind == 0 and length == 0:  # zero padding
            pos = end
            continue
        if end > len(data):  # torn tail: this chunk is not (all) written yet
            return
        chunk = data[start:end]
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != checksum:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos = end
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            yield pending, pos
            pending = b""


def scan_wandb_file(path: Path) -> Iterator[bytes]:
    """Yields each whole serialized `Record` in a `.wandb` file.

    A torn tail (a killed writer, or one still writing) ends the scan: the records before it are
    yielded and the partial one is not.

    Raises:
        ValueError: if the file does not start with the W&B header or a chunk fails its checksum.
    """
    data = Path(path).read_bytes()
    _check_file_header(data, path)
    for record, _end in _records_from(data, _FILE_HEADER.size, path):
        yield record


def _is_exit(raw: bytes) -> bool:
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record()
    record.ParseFromString(raw)
    return record.WhichOneof("record_type") == "exit"


def wait_for_closed_log(path: Path, timeout: float) -> bool:
    """Waits until the `.wandb` log at `path` holds its run's exit record; False if `timeout` passes first.

    The exit record is the last one wandb-core writes for a finished run, so once it can be read the
    whole log is on disk. Each poll parses only the records appended since the previous one. A missing
    file, a short header or a bad checksum counts as "not yet" until the timeout.
    """
    path = Path(path)
    deadline = time.monotonic() + timeout
    pos, delay = _FILE_HEADER.size, 0.001
    while True:
        try:
            data = path.read_bytes()
            _check_file_header(data, path)
            for raw, end in _records_from(data, pos, path):
                if _is_exit(raw):
                    return True
                pos = end
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(2 * delay, 0.05)


def _item_key(item: Any) -> str:
    return item.key or ".".join(item.nested_key)


def _item_value(item: Any) -> Any:
    if item.value_json or "value" not in item.DESCRIPTOR.oneofs_by_name:
        return json.loads(item.value_json or "null")
    typed = item.WhichOneof("value")  # history written with x_history_value_encoding="typed"
    if typed in (None, "none"):
        return None
    return json.loads(item.json) if typed == "json" else getattr(item, typed)


@dataclass
class OfflineRun:
    """What an offline run recorded: its identity, config, history rows and final summary."""

    id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    project: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    step_metrics: dict[str, str] = field(default_factory=dict)  # define_metric: metric or glob -> its x-axis


def read_offline_run(run_dir: Path) -> OfflineRun:
    """Reads every offline run under `run_dir/wandb/`, oldest first, as one run.

    A resumed run leaves one `offline-run-<time>-<id>` folder per process, so the history is their
    concatenation and identity comes from the first.

    Raises:
        FileNotFoundError: if there is no offline run under `run_dir/wandb/`.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    paths = sorted(Path(run_dir, "wandb").glob("offline-run-*/run-*.wandb"))
    if not paths:
        raise FileNotFoundError(f"no offline W&B run under {Path(run_dir, 'wandb')}")
    run = OfflineRun()
    for path in paths:
        for raw in scan_wandb_file(path):
            record = pb.Record()
            record.ParseFromString(raw)
            kind = record.WhichOneof("record_type")
            if kind == "run" and not run.id:
                r = record.run
                run.id, run.name, run.group = r.run_id, r.display_name, r.run_group
                run.job_type, run.project, run.tags = r.job_type, r.project, list(r.tags)
                run.config.update({_item_key(i): _item_value(i) for i in r.config.update})
            elif kind == "run":
                run.tags = list(record.run.tags)  # a later run record carries the tags set since
            elif kind == "metric":
                metric = record.metric
                run.step_metrics[metric.name or metric.glob_name] = metric.step_metric
            elif kind == "config":
                run.config.update({_item_key(i): _item_value(i) for i in record.config.update})
            elif kind == "history":
                run.history.append({_item_key(i): _item_value(i) for i in record.history.item})
            elif kind == "summary":
                run.summary.update({_item_key(i): _item_value(i) for i in record.summary.update})
    run.config.pop("_wandb", None)
    return run


def read_offline_history(run_dir: Path) -> list[dict]:
    """The history rows of the offline run under `run_dir/wandb/`, in logging order."""
    return read_offline_run(run_dir).history
