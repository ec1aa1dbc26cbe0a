"""The terminal shows the harness's lines; fairseq's INFO lines and harmless warnings go to the log file only."""
from __future__ import annotations

import io
import logging
import logging.config
import warnings

from omegaconf import OmegaConf

from tests.conftest import REPO
from train_large.console import FILE_ONLY, HARMLESS_WARNINGS

JOB_LOGGING = REPO / "conf" / "hydra" / "job_logging" / "harness.yaml"


def test_the_log_file_gets_every_line_and_the_terminal_the_harness_lines(tmp_path):
    terminal, log_file = io.StringIO(), tmp_path / "train.log"
    config = OmegaConf.to_container(OmegaConf.load(JOB_LOGGING))
    config["handlers"]["console"]["stream"] = terminal
    config["handlers"]["file"]["filename"] = str(log_file)
    root, fairseq = logging.getLogger(), logging.getLogger("fairseq")
    saved = root.handlers[:], root.level, fairseq.level
    try:
        fairseq.setLevel(logging.NOTSET)  # as in a fresh process: an in-process tlc-prepare test raises it
        logging.config.dictConfig(config)
        logging.getLogger("fairseq.data.data_utils").info("loaded 1,000 examples")
        logging.getLogger("fairseq.trainer").warning("NaN loss")
        logging.getLogger("train_large.loop").info("train 3.9/10s")
        logging.getLogger("train_large.data.prepare").info("normalised 6 files", extra=FILE_ONLY)
        logging.getLogger("train_large.data.prepare").warning("odd line", extra=FILE_ONLY)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn(f"{HARMLESS_WARNINGS[0]}, then device pinned memory won't be used.", UserWarning)
            warnings.warn("something new", UserWarning)
    finally:
        logging.captureWarnings(False)
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level, fairseq.level = saved
    shown, logged = terminal.getvalue(), log_file.read_text()
    for line in ("loaded 1,000 examples", "NaN loss", "train 3.9/10s", HARMLESS_WARNINGS[0], "something new",
                 "normalised 6 files", "odd line"):
        assert line in logged
    assert "train 3.9/10s" in shown and "NaN loss" in shown and "something new" in shown
    assert "loaded 1,000 examples" not in shown and HARMLESS_WARNINGS[0] not in shown
    # a detail marked FILE_ONLY stays off the terminal, unless it is a warning
    assert "normalised 6 files" not in shown and "odd line" in shown
