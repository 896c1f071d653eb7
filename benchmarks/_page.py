"""A benchmark's page, docs/benchmarks/<name>.md: its latest figures with where they came from.

The scripts in this folder run as ``python benchmarks/<name>.py``, which puts this folder on
``sys.path``, so they import it as ``from _page import write_page``.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PAGES = REPOSITORY / "docs" / "benchmarks"


def _git(*args: str) -> str:
    """Output of a git command in the repository; empty if git fails."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return result.stdout.strip()


def _commit() -> str:
    """The short commit, with "+ uncommitted changes" when tracked files are modified."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} + uncommitted changes" if dirty else commit


def _machine() -> str:
    """CPU model, cores, memory, torch and its CUDA device when there are, platform."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = [cpu, f"{os.cpu_count()} cores", f"{memory_gib:.1f} GiB"]
    try:
        import torch
    except ImportError:
        pass
    else:
        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(f"CUDA {torch.cuda.get_device_name(0)}")
    return ", ".join([*parts, platform.platform()])


def _command() -> str:
    """This process's command line, the interpreter relative to the working directory."""
    python = Path(sys.executable)
    if python.is_relative_to(Path.cwd()):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), *sys.argv])


def write_page(name: str, title: str, body: str, command: str | None = None) -> Path:
    """Write docs/benchmarks/``name``.md atomically: ``title``, a header (UTC date, commit,
    machine, ``command``, by default this process's command line), then ``body`` (Markdown).
    Returns the page's path."""
    header = [
        f"# {title}",
        "",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- commit: {_commit()}",
        f"- machine: {_machine()}",
        f"- command: `{command or _command()}`",
        "",
    ]
    text = "\n".join(header) + "\n" + body.strip("\n") + "\n"
    PAGES.mkdir(parents=True, exist_ok=True)
    page = PAGES / f"{name}.md"
    descriptor, temporary = tempfile.mkstemp(suffix=".tmp", dir=PAGES)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's file is private; the page is not
        os.replace(temporary, page)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return page


class Page:
    """A benchmark's Markdown, printed as it comes and kept for its page."""

    def __init__(self, name: str, title: str) -> None:
        self.name, self.title, self.parts = name, title, []

    def show(self, text: str) -> None:
        """Print ``text`` now; it goes on the page too."""
        print(text, flush=True)
        self.parts.append(text)

    def write(self) -> Path:
        """Write the page with everything shown (see :func:`write_page`)."""
        return write_page(self.name, self.title, "\n".join(self.parts))


def save_runs(path: Path, scores, add: bool, keys: tuple[str, ...] = ("variant", "seed")):
    """Write a benchmark's table of runs (pandas, with ``keys`` columns) to ``path`` and return
    it; with ``add``, the rows already there stay, except those of a run (its ``keys``) that
    ``scores`` has anew."""
    import pandas as pd

    if add and path.exists():
        before = pd.read_csv(path)
        if scores.empty:
            scores = before
        else:
            runs = scores[list(keys)].drop_duplicates()
            kept = before.merge(runs, how="left", indicator=True)["_merge"] == "left_only"
            scores = pd.concat([before[kept.to_numpy()], scores], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(path, index=False)
    return scores
