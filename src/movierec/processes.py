"""Child processes that die with their parent, even when the parent is killed with SIGKILL.

``with_parent_death_signal(argv)`` wraps a command as ``python -m movierec.processes --parent PID -- argv``: the
wrapper asks Linux to send it SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``),
checks that the parent is still the one that started it (else it exits at once: the parent died first), then
replaces itself with the command. Done in the child rather than in ``preexec_fn``, which is unsafe in a process
with threads. Elsewhere than Linux the command runs as it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def with_parent_death_signal(argv: list[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-m", "movierec.processes", "--parent", str(os.getpid()), "--", *argv]


def terminate(process: subprocess.Popen[bytes], timeout: float = 30.0, *, group: bool = False) -> int:
    """Stop ``process``: SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds. Its exit status.
    With ``group``, the signals go to its whole process group (a child started with ``start_new_session=True``
    and the workers it forked, as gunicorn's)."""

    def send(signum: int) -> None:
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)

    if process.poll() is None:
        send(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
    return process.wait(timeout)


def _set_parent_death_signal(signum: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def main(args: list[str]) -> int:
    if len(args) < 4 or args[0] != "--parent" or args[2] != "--" or not args[1].isdigit():
        print("usage: python -m movierec.processes --parent PID -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != int(args[1]):
        return 1  # the parent is already gone: the death signal would never come
    command = args[3:]
    os.execvp(command[0], command)
    return 127  # not reached: exec replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
