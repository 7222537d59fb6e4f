"""A request's deadline, checked by long work between its steps so that work past the time limit stops.

The service sets it when a request arrives (``qa.guard``); it travels with the request's context into
worker threads. Without one (the CLI, the tests) nothing ever stops.
"""

from __future__ import annotations

import contextvars
import time

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("qa_deadline", default=None)


class DeadlineExceeded(Exception):
    """The request's time limit passed; the work stopped where it was."""


def start(seconds: float) -> contextvars.Token:
    """Give the current context (and the tasks and threads it starts) ``seconds`` from now."""
    return _DEADLINE.set(time.monotonic() + seconds)


def end(token: contextvars.Token) -> None:
    _DEADLINE.reset(token)


def check(step: str) -> None:
    """Raise DeadlineExceeded, naming ``step``, if the current request's time is up."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded(f"time limit passed before {step}")
