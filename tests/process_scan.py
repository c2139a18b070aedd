"""Which processes are still running for a test: found by a path in their command line (Linux /proc)."""

from __future__ import annotations

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
