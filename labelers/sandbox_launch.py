"""Run one Python program confined, then exec it in this same interpreter (stdlib only).

    python -I sandbox_launch.py WORKDIR PROGRAM CPU_S MEMORY_BYTES NPROC NETWORK CGROUP

Started by labelers/sandbox.py in a new session (its own process group), in WORKDIR, with
an environment holding no secrets. Before the program runs, this process:
- joins CGROUP (a pids cgroup: the process-count limit when started as root, for whom
  the kernel does not enforce RLIMIT_NPROC), or sets RLIMIT_NPROC to NPROC;
- sets the CPU, address-space, file-size and core-dump limits;
- enters a new user and network namespace: no network, not even loopback, unless NETWORK
  is `allow` (exit 97 when the kernel refuses the namespace);
- restricts itself with Landlock: files may be written only under WORKDIR (and /dev/null),
  no TCP connect or bind, no signals to processes outside the sandbox (exit 98 when the
  kernel has no Landlock).
"""

import ctypes
import os
import resource
import runpy
import sys

NO_NETWORK_NAMESPACE, NO_LANDLOCK = 97, 98
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
PR_SET_NO_NEW_PRIVS = 38
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # x86_64 and arm64


class RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _limits(cpu_s: int, memory: int, nproc: int, cgroup: str) -> None:
    if cgroup != "-":
        with open(cgroup, "w") as procs:
            procs.write(str(os.getpid()))
    else:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _landlock(libc: ctypes.CDLL, workdir: str, network: bool) -> bool:
    abi = libc.syscall(SYS_CREATE_RULESET, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return False
    write_file, truncate = 1 << 1, (1 << 14 if abi >= 3 else 0)
    fs = write_file | truncate | (1 << 13 if abi >= 2 else 0)  # refer
    fs |= sum(1 << bit for bit in range(4, 13))  # remove and make: dirs, files, nodes, links
    attr = RulesetAttr(fs, 0 if network or abi < 4 else 0b11, 0b11 if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return False
    for path, allowed in ((workdir, fs), ("/dev/null", write_file | truncate)):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = PathBeneath(allowed, fd)
        if libc.syscall(SYS_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:
            return False
        os.close(fd)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return libc.syscall(SYS_RESTRICT_SELF, ruleset, 0) == 0


def main() -> None:
    workdir, program, cpu_s, memory, nproc, network, cgroup = sys.argv[1:8]
    libc = ctypes.CDLL(None, use_errno=True)
    _limits(int(cpu_s), int(memory), int(nproc), cgroup)
    if network != "allow" and libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        os._exit(NO_NETWORK_NAMESPACE)
    if not _landlock(libc, workdir, network == "allow"):
        os._exit(NO_LANDLOCK)
    os.chdir(workdir)
    sys.argv = [program]
    sys.path[0] = workdir
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
