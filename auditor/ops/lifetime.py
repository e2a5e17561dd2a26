"""Child processes end with the auditor process that started them, however it ends.

Scan workers and the policy guard's evaluator would otherwise outlive a killed run (kill -9,
SIGTERM) and keep memory or CPU forever. On Linux the kernel sends SIGKILL when the parent
dies (PR_SET_PDEATHSIG; note that it fires when the thread that started the child ends, and
the auditor starts its children from the thread that runs the stage); everywhere a daemon
thread also watches the parent's pid.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

# How often a child looks whether the process that started it is still there.
PARENT_CHECK_SECONDS = 1.0
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Arrange for this process to end when `parent_pid` (its parent) ends; end it now if
    the parent is already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # the watchdog below still covers it
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


# SIGTERM, once received. The CLI's handler raises Terminated where the main thread is; but a
# signal that lands while Python runs a finalizer (a __del__, a weakref callback) has its
# exception printed as "Exception ignored in ..." and lost, and the run would go on. Long waits
# in the stages (the policy guard's answer, each evaluated chunk) call check_termination(),
# which raises it again there.
_termination_requested = False


def request_termination() -> None:
    """Record that SIGTERM came (the CLI's signal handler calls this before raising)."""
    global _termination_requested
    _termination_requested = True


def check_termination() -> None:
    """Raise Terminated if SIGTERM came; a no-op otherwise. Call it from work loops only, never
    from clean-up code (which must finish once Terminated is on its way)."""
    if _termination_requested:
        from auditor.ops.ledger import Terminated

        raise Terminated()
