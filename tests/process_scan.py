"""Which processes are still running for a test: found by a path in their command line (Linux /proc)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def processes_naming(path: Path) -> list[int]:
    """Pids of the processes whose command line contains `path` (an import and its segment workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(path) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue  # it ended while we looked
    return pids


def process_gone(pid: int) -> bool:
    """True when the process has exited: no such pid, or a zombie waiting for its parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:  # Linux: a dead orphan may wait a moment for init
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def children_running(parent: int | None = None) -> list[int]:
    """Pids of the running (not zombie) child processes of `parent` (this process by default)."""
    parent = os.getpid() if parent is None else parent
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
        except OSError:
            continue  # it ended while we looked
    return [pid for pid in pids if not process_gone(pid)]


def memory_mb(pid: int | str = "self", field: str = "VmHWM") -> float:
    """A process's memory from /proc/PID/status, MB: VmHWM its peak resident size, VmRSS its current one."""
    with open(f"/proc/{pid}/status") as fh:
        line = next(line for line in fh if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def open_files(pid: int) -> list[str]:
    """What a process has open: files, devices, sockets."""
    names = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            names.append(os.readlink(fd))
        except OSError:
            continue  # closed while we looked
    return names


def wait_for(condition, timeout_s: float) -> bool:
    """Poll condition() until it holds or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
