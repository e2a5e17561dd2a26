"""SIGTERM is not lost when its exception lands in a finalizer: the stages' waits raise it."""

from __future__ import annotations

import os
import time

import pytest

from auditor.ops import lifetime
from auditor.ops.ledger import Terminated
from auditor.policy import guard


def test_a_sigterm_whose_exception_was_lost_stops_the_next_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Python prints an exception raised inside a __del__ or a weakref callback as "Exception
    # ignored in ..." and goes on: the run would continue for minutes (seen in CI, with a rule
    # that evaluates slowly). The handler records the signal first, so the wait for the policy
    # guard's answer raises Terminated.
    monkeypatch.setattr(lifetime, "_termination_requested", False)
    lifetime.check_termination()  # nothing came: a no-op
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as stream:
        lifetime.request_termination()
        with pytest.raises(Terminated):  # at once, not after the 60 s the child has
            guard._read_line(stream, time.monotonic() + 60)
    os.close(write_end)


def test_a_lost_terminated_is_not_printed_but_other_lost_errors_are(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from auditor.cli import _quiet_lost_termination

    def lost(exc: BaseException) -> types.SimpleNamespace:
        return types.SimpleNamespace(
            exc_type=type(exc), exc_value=exc, exc_traceback=None, err_msg=None, object=None
        )

    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "__unraisablehook__", lambda u: seen.append(u.exc_value))
    _quiet_lost_termination(lost(Terminated()))  # type: ignore[arg-type]
    assert seen == [] and capsys.readouterr().err == ""
    other = ValueError("other")
    _quiet_lost_termination(lost(other))  # type: ignore[arg-type]
    assert seen == [other]
