"""One logging mechanism for every stage: the package's records (and Python warnings) to a file."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("centriole_sr")


@contextlib.contextmanager
def logging_to(path: str | os.PathLike | None) -> Iterator[logging.Logger]:
    """Send the package's log records (and Python warnings) to ``path`` for one stage.

    Without a path they go to standard error; the log's folder is made where missing. An
    exception escaping the block is logged with its traceback before it propagates.
    """
    handler: logging.Handler
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="w")
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield log
    except Exception:
        log.exception("stage failed")
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def progress_logger(what: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that logs each tenth with elapsed time and ETA."""
    start = time.perf_counter()
    logged_tenths = [0]

    def progress(done: int, total: int) -> None:
        tenths = 10 * done // total
        if tenths > logged_tenths[0]:
            logged_tenths[0] = tenths
            seconds = time.perf_counter() - start
            eta_s = seconds * (total - done) / done
            log.info("%s %d/%d (%.0f s, ETA %.0f s)", what, done, total, seconds, eta_s)

    return progress
