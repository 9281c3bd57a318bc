"""Running untrusted Python: one confined process per program, the whole group killed after.

`Sandbox.run(program)` writes the program into a fresh temporary directory and starts
`sandbox_launch.py` on it (limits, no network, writes only there: see that file) in a new
session, with an environment that holds no secrets. Output goes to files capped by the
file-size limit, never to pipes a hostile program could fill. When the program ends or its
wall-clock time is up, every process of its group is killed, then the directory removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from prefsmith.schemas.errors import UserError

LAUNCHER = Path(__file__).with_name("sandbox_launch.py")
NO_NETWORK_NAMESPACE, NO_LANDLOCK = 97, 98
CLEAN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}
PIDS_CGROUPS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))  # v1, then v2


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_s: float = 10.0  # wall clock, the whole program
    cpu_s: int = 10
    memory_mb: int = 1024
    processes: int = 64  # beyond those the sandbox's user already runs
    network: str = "deny"  # "allow": no network namespace, no TCP rules


@dataclass(frozen=True, slots=True)
class Finished:
    """How a program ended: its exit code (negative: the signal), output, and whether the
    wall-clock limit ended it."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    reports: list[str]


class Sandbox:
    """Runs programs under `limits`; `check()` refuses (UserError) where the kernel can't
    confine them as asked."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.cgroups = _pids_cgroups() if os.geteuid() == 0 else None
        self._free_cgroups: list[Path] = []  # emptied groups, reused: mkdir/rmdir cost ~10 ms
        self._lock = threading.Lock()
        self.nproc = _processes_of(os.geteuid()) + limits.processes

    def check(self) -> None:
        ended = self.run("pass")
        if ended.returncode == NO_NETWORK_NAMESPACE:
            raise UserError(
                "verify-code: this kernel refuses a private network namespace, so code would "
                "run with the network; --option network=allow runs it so anyway"
            )
        if ended.returncode == NO_LANDLOCK:
            raise UserError(
                "verify-code: this kernel has no Landlock, so code could write outside its "
                "directory; run on Linux >= 5.13 with Landlock enabled"
            )
        if ended.returncode != 0:
            raise UserError(f"verify-code: the sandbox does not start: {ended.stderr[-300:]}")
        if landlock_abi() < 6:
            logging.getLogger("prefsmith").warning(
                "verify-code: this kernel's Landlock (ABI %d < 6, Linux < 6.12) cannot keep "
                "the code from signalling processes of the same user outside the sandbox",
                landlock_abi(),
            )

    def close(self) -> None:
        """Remove the cgroups made for the runs."""
        with self._lock:
            groups, self._free_cgroups = self._free_cgroups, []
        for cgroup in groups:
            with contextlib.suppress(OSError):
                cgroup.rmdir()

    def _cgroup(self) -> Path:
        with self._lock:
            if self._free_cgroups:
                return self._free_cgroups.pop()
        cgroup = Path(tempfile.mkdtemp(prefix="prefsmith-sandbox-", dir=self.cgroups))
        (cgroup / "pids.max").write_text(str(self.limits.processes))
        return cgroup

    def run(self, program: str, stdin: str | None = None) -> Finished:
        """Run `program` confined. It is started as `main.py REPORT_FD NONCE_FD`: a line it
        writes on REPORT_FD that begins with the nonce read from NONCE_FD (then closed) is
        one of `Finished.reports`. Its outputs live beside its directory, not in it, so
        the code it runs can neither rewrite them nor, without the nonce, forge a report."""
        folder = Path(tempfile.mkdtemp(prefix="prefsmith-sandbox-"))
        try:
            (folder / "work").mkdir()
            return self._run_in(folder, program, stdin)
        finally:
            retry = "onexc" if sys.version_info >= (3, 12) else "onerror"
            shutil.rmtree(folder, **{retry: _writable_then_again})

    def _run_in(self, folder: Path, program: str, stdin: str | None) -> Finished:
        limits, workdir = self.limits, folder / "work"
        (workdir / "main.py").write_text(program, encoding="utf-8")
        nonce = secrets.token_hex(16)
        nonce_read, nonce_write = os.pipe()
        os.write(nonce_write, nonce.encode())
        os.close(nonce_write)
        reports = folder / ".reports"
        cgroup = self._cgroup() if self.cgroups is not None else None
        command = [
            sys.executable, "-I", str(LAUNCHER), str(workdir), str(workdir / "main.py"),
            str(limits.cpu_s), str(limits.memory_mb << 20), str(self.nproc), limits.network,
            str(cgroup / "cgroup.procs") if cgroup else "-",
        ]  # fmt: skip
        out, err, given = folder / ".stdout", folder / ".stderr", folder / ".stdin"
        given.write_text(stdin or "", encoding="utf-8")
        started = time.perf_counter()
        with (
            open(out, "wb") as stdout, open(err, "wb") as stderr, open(given, "rb") as source,
            open(reports, "wb") as report,
        ):  # fmt: skip
            command += [str(report.fileno()), str(nonce_read)]
            try:
                process = subprocess.Popen(
                    command, cwd=workdir, env={**CLEAN_ENV, "HOME": str(workdir)},
                    stdin=source, stdout=stdout, stderr=stderr, start_new_session=True,
                    pass_fds=(report.fileno(), nonce_read),
                )  # fmt: skip
            finally:
                os.close(nonce_read)
            try:
                timed_out = not _ended_within(process, limits.timeout_s)
            finally:
                kill_group(process)
                if cgroup is not None and empty_cgroup(cgroup):
                    with self._lock:
                        self._free_cgroups.append(cgroup)
                process.wait()
        said = [
            line[len(nonce) + 1 :] for line in _tail(reports).split("\n")
            if line.startswith(nonce + " ")
        ]  # fmt: skip
        seconds = time.perf_counter() - started
        return Finished(process.returncode, _tail(out), _tail(err), timed_out, seconds, said)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return max(0, libc.syscall(444, None, 0, 1))  # landlock_create_ruleset(VERSION)


def _writable_then_again(function, path, _error) -> None:
    """rmtree's retry for what the code made unreadable (`chmod 0` on a folder of its own)."""
    with contextlib.suppress(OSError):
        os.chmod(os.path.dirname(path), 0o700)
        os.chmod(path, 0o700)
        function(path)


def _ended_within(process: subprocess.Popen, seconds: float) -> bool:
    """Wait for the process to end, waking the moment it does (Popen.wait with a timeout
    polls in sleeps of up to 50 ms: most of a short program's run)."""
    try:
        handle = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3): Popen's polling wait
        try:
            process.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        return bool(select.select([handle], [], [], seconds)[0])
    finally:
        os.close(handle)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL every process of the group until none is left (a fork bomb keeps making new
    ones while the first signal goes out); the leader is reaped on the way."""
    for _ in range(400):
        process.poll()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.002)


def empty_cgroup(cgroup: Path) -> bool:
    """SIGKILL whatever is left in the cgroup (a process that left the process group);
    True once it is empty."""
    for _ in range(400):
        pids = (cgroup / "cgroup.procs").read_text().split()
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.002)
    return False


def _pids_cgroups() -> Path | None:
    """A pids cgroup directory this process may make groups in (root only), else None."""
    for path in PIDS_CGROUPS:
        v1 = path.name == "pids" and (path / "cgroup.procs").exists()
        v2 = "pids" in _read(path / "cgroup.subtree_control").split()
        if (v1 or v2) and os.access(path, os.W_OK):
            return path
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _tail(path: Path, limit: int = 1 << 20) -> str:
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - limit))
        return handle.read().decode("utf-8", "replace")


def _processes_of(uid: int) -> int:
    """How many processes `uid` runs now: the process limit counts them all."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count
