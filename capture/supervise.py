"""`python -m capture.supervise COMMAND...`: run COMMAND, stop it when our stdin closes.

A batch worker (batch_task.py) starts each capture process under this, holding the other end
of its stdin: when the worker dies (killed, out of memory), the OS closes that pipe, and the
capture is stopped (SIGTERM: it deletes its `.partial` and exits 130) instead of writing on
as an orphan beside the retry. Standard library only, so it starts in a few tens of ms.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

SIGNAL_EXIT = 128  # a command ended by signal N exits 128 + N, as a shell reports it


def supervise(command: list[str]) -> int:
    """Run `command`, ending it (SIGTERM) when our stdin closes or we are asked to stop; its exit code."""
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def stop(*_: object) -> None:
        if child.poll() is None:
            child.terminate()

    def watch() -> None:
        try:  # the raw descriptor, so a blocked read never holds sys.stdin's lock at exit
            while os.read(0, 1024):
                pass
        except OSError:
            pass
        stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    threading.Thread(target=watch, name="worker-watch", daemon=True).start()
    code = child.wait()
    return SIGNAL_EXIT - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1:]))
