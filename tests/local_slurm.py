"""A real single-node Slurm on localhost (Debian's slurm-wlm and munge), for tests and benchmarks.

`LocalSlurm(directory).start()` starts munged (unless one runs), slurmctld and slurmd with a
minimal /etc/slurm/slurm.conf (the place every Slurm command, including the `srun` inside jobs,
reads) and state and logs in `directory`; `stop()` stops what it started and removes the config.
`unavailable_reason()` installs the packages where missing and says why Slurm cannot run here.
The node offers one GPU generic resource (no device behind it) so that `--gpus=1` jobs are
scheduled as on a GPU cluster. It offers more CPUs than the machine has (``OVERSUBSCRIBE``
times): a job of a few seconds spends most of its life starting Snakemake and waiting for the
executor's next status check, so jobs that would queue one after another share the cores
instead. Without slurmdbd, `sacct --completion` reads the job completion
log (jobcomp/filetxt), and squeue keeps finished jobs for an hour (MinJobAge).
"""

import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd

MUNGE_SOCKET_DIR = Path("/run/munge")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by centriole-sr tests/local_slurm.py"
OVERSUBSCRIBE = 3  # node CPUs per real core
# The profile as users type it, plus what a cluster without slurmdbd (no sacct) needs and a
# faster first status check; --max-threads: the node may have fewer CPUs than a rule asks.
SLURM = (
    "--profile", "slurm",
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--slurm-no-account",
    "--max-threads", str(os.cpu_count()),
)  # fmt: skip


def _run(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _install_reason() -> str | None:
    """Install slurm-wlm and munge with apt-get where missing; why not, if that fails."""
    if all(shutil.which(tool) for tool in ("sbatch", "slurmctld", "slurmd", "munged")):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "Slurm is not installed and apt-get is not available as root to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ("apt-get", "install", "-y", "-q", "slurm-wlm", "munge")
    if _run(*install, env=env).returncode != 0:
        _run("apt-get", "update", "-q", env=env)
        result = _run(*install, env=env)
        if result.returncode != 0:
            return f"apt-get install slurm-wlm munge failed: {result.stderr[-500:]}"
    return None


@functools.cache
def unavailable_reason() -> str | None:
    """Why a local Slurm cannot run here (None when it can), installing it where missing.
    Checked once per process: the answer is asked for again when tests are skipped."""
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs, and this user is not root"
    reason = _install_reason()
    if reason:
        return reason
    if _run("pgrep", "-x", "slurmctld").returncode == 0:
        return "a slurmctld already runs on this machine; the test does not touch it"
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} exists (a configured Slurm); the test does not overwrite it"
    return None


def _memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return int(total_kb / 1024 * 0.9)


class LocalSlurm:
    """slurmctld + slurmd on this host, with state, logs and configuration in `directory`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory).resolve()
        self.conf = SLURM_CONF
        self._started_munged = False

    def start(self) -> None:
        self._start_munged()
        self._write_conf()
        for daemon in ("slurmctld", "slurmd"):
            result = _run(daemon)
            if result.returncode != 0:
                self.stop()
                raise RuntimeError(f"{daemon} did not start: {result.stderr}\n{self._logs()}")
        self._wait_for_idle_node()

    def stop(self) -> None:
        _run("scancel", "--user", "root")
        for daemon in ("slurmd", "slurmctld"):
            self._kill_from_pid_file(self.directory / f"{daemon}.pid")
        for conf in (self.conf, self.conf.with_name("gres.conf")):
            if conf.exists() and MARKER in conf.read_text():
                conf.unlink()
        if self._started_munged:
            self._kill_from_pid_file(MUNGE_SOCKET_DIR / "munged.pid")
            self._started_munged = False

    def jobs(self) -> pd.DataFrame:
        """One row per job slurmctld knows of: id, state, rule (from the plugin's comment), gpus."""
        output = _run("scontrol", "--oneliner", "show", "job").stdout
        rows = []
        for line in output.splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if "JobId" in fields:
                rows.append(
                    {
                        "job_id": fields["JobId"],
                        "state": fields.get("JobState"),
                        "comment": fields.get("Comment", ""),
                        "gres": fields.get("TresPerJob", ""),
                    }
                )
        return pd.DataFrame(rows, columns=["job_id", "state", "comment", "gres"])

    def accounted_jobs(self) -> pd.DataFrame:
        """Finished jobs as `sacct --completion` reports them (the job completion log)."""
        result = _run("sacct", "--completion", "--parsable2", "--format=JobID,JobName,State")
        rows = [line.split("|") for line in result.stdout.splitlines()[1:] if line]
        return pd.DataFrame(rows, columns=["job_id", "name", "state"])

    def _start_munged(self) -> None:
        if _run("sh", "-c", "munge -n | unmunge").returncode == 0:
            return  # a munged already runs: use it, leave it running
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            _run("mungekey", "--create", "--keyfile", str(key))
            shutil.chown(key, "munge", "munge")
        MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET_DIR, "munge", "munge")
        result = _run("runuser", "-u", "munge", "--", "munged")
        if result.returncode != 0:
            raise RuntimeError(f"munged did not start: {result.stderr}")
        self._started_munged = True

    def _write_conf(self) -> None:
        host = socket.gethostname()
        for folder in ("state", "spool"):
            (self.directory / folder).mkdir(parents=True, exist_ok=True)
        d = self.directory
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "\n".join(
                [
                    MARKER,
                    "ClusterName=local",
                    f"SlurmctldHost={host}",
                    "SlurmUser=root",
                    f"SlurmctldPidFile={d}/slurmctld.pid",
                    f"SlurmdPidFile={d}/slurmd.pid",
                    f"StateSaveLocation={d}/state",
                    f"SlurmdSpoolDir={d}/spool",
                    f"SlurmctldLogFile={d}/slurmctld.log",
                    f"SlurmdLogFile={d}/slurmd.log",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "AccountingStorageType=accounting_storage/none",
                    "JobCompType=jobcomp/filetxt",
                    f"JobCompLoc={d}/jobcomp.txt",
                    "MinJobAge=3600",
                    "SlurmdParameters=config_overrides",  # the node's CPUs as written here
                    "GresTypes=gpu",
                    f"NodeName={host} CPUs={OVERSUBSCRIBE * os.cpu_count()} "
                    f"RealMemory={_memory_mb()} Gres=gpu:1 State=UNKNOWN",
                    "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        # a generic GPU with no device behind it: jobs asking for --gpus=1 get scheduled
        self.conf.with_name("gres.conf").write_text(f"{MARKER}\nName=gpu File=/dev/null\n")

    def _wait_for_idle_node(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = _run("sinfo", "--noheader", "--format=%t").stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the Slurm node did not become idle (state {state!r})\n{self._logs()}")

    def _logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:])
            for log in sorted(self.directory.glob("*.log"))
        )

    @staticmethod
    def _kill_from_pid_file(pid_file: Path, timeout_s: float = 20) -> None:
        try:
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
