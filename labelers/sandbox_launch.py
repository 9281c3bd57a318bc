"""Run one Python program confined, then exec it in this same interpreter (stdlib only).

    python -I sandbox_launch.py WORKDIR PROGRAM CPU_S MEMORY_BYTES NPROC NETWORK CGROUP ARGS...

Started by labelers/sandbox.py in a new session (its own process group), in WORKDIR, with
an environment holding no secrets. Before the program runs, this process:
- joins CGROUP (a pids cgroup: the process-count limit when started as root, for whom
  the kernel does not enforce RLIMIT_NPROC), or sets RLIMIT_NPROC to NPROC;
- sets the CPU, address-space, file-size and core-dump limits;
- enters a new user and network namespace: no network, not even loopback, unless NETWORK
  is `allow` (exit 97 when the kernel refuses the namespace);
- restricts itself with Landlock: files may be written only under WORKDIR (and /dev/null),
  no TCP connect or bind, no signals to processes outside the sandbox (exit 98 when the
  kernel has no Landlock);
- installs a seccomp filter: no changes to files' modes, owners, times or extended
  attributes anywhere (Landlock does not cover those), and, without the network, no
  sockets at all (a Unix socket by path, /var/run/docker.sock, is outside any namespace).
Then it runs PROGRAM as `__main__` with `sys.argv = [PROGRAM, ARGS...]`.
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
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# (audit arch, socket, [chmod, chown, utime and xattr calls]) per machine
SYSCALLS = {
    "x86_64": (0xC000003E, 41, [90, 91, 268, 452, 92, 93, 94, 260, 132, 235, 261, 280,
                                 188, 189, 190, 197, 198, 199]),
    "aarch64": (0xC00000B7, 198, [52, 53, 452, 54, 55, 88, 5, 6, 7, 14, 15, 16]),
}  # fmt: skip


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


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]  # fmt: skip


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def _seccomp(libc: ctypes.CDLL, network: bool) -> bool:
    """Refuse (EPERM) the syscalls above; another architecture's calls kill the process."""
    machine = os.uname().machine
    if machine not in SYSCALLS:
        return True  # Landlock and the namespaces still hold; nothing to add here
    arch, socket, denied = SYSCALLS[machine]
    denied = denied + ([] if network else [socket])
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JGE|K, RET
    allow, errno, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000
    n = len(denied)
    code = [(load, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (load, 0, 0, 0)]
    code.append((jge, n + 1, 0, 0x40000000))  # x32 calls on x86_64: refused
    code += [(jeq, n - i, 0, number) for i, number in enumerate(denied)]
    code += [(ret, 0, 0, allow), (ret, 0, 0, errno)]
    program = (SockFilter * len(code))(*[SockFilter(*line) for line in code])
    fprog = SockFprog(len(code), program)
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def main() -> None:
    workdir, program, cpu_s, memory, nproc, network, cgroup = sys.argv[1:8]
    libc = ctypes.CDLL(None, use_errno=True)
    _limits(int(cpu_s), int(memory), int(nproc), cgroup)
    if network != "allow" and libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        os._exit(NO_NETWORK_NAMESPACE)
    if not _landlock(libc, workdir, network == "allow"):
        os._exit(NO_LANDLOCK)
    if not _seccomp(libc, network == "allow"):
        os._exit(NO_LANDLOCK)
    os.chdir(workdir)
    sys.argv = [program, *sys.argv[8:]]
    sys.path[0] = workdir
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
