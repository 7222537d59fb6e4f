"""The service's outer wall: one ASGI middleware around every route, including ones mounted later.

For each HTTP request, outside in:

1. security headers on every response (a strict Content-Security-Policy, nosniff, no referrer, no framing);
2. a body larger than ``max_body_bytes`` is refused with 413 (by its Content-Length, or while it is read);
3. admission: at most ``max_active_requests`` are worked on and ``max_waiting_requests`` wait for a slot;
   one more is turned away at once with 503 and ``Retry-After``;
4. a request with no response ``request_timeout_s`` after it arrived gets 504. Its worker thread cannot be
   interrupted from outside, so the request carries a deadline (``qa.deadline``) that the pipeline checks
   between its stages: runaway work stops at the next stage, keeping its slot until then, so it never
   oversubscribes the machine;
5. an error no route handled is logged as one structured line and answered in the one error shape,
   never with a traceback.

Health checks and static files skip admission and the time limit, so a busy service still says how it is.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa import deadline
from qa.settings import Settings

log = logging.getLogger("qa.service")

# Scripts, styles, images and connections from this origin only; no inline script, no eval, no plugins,
# no <base> rewriting, forms post here only, and no other site may frame a page (clickjacking).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
UNGATED_PATHS = ("/api/health", "/static/")

ErrorResponse = Callable[[Request, int, str], Response]


class _Busy(Exception):
    """Every slot is taken and the queue is full."""


class _BodyTooLarge(HTTPException):
    """The body grew past the limit while it was read (an HTTPException, so FastAPI's body parsing lets it through
    to the app's handler, which renders the error shape; anything else that reads the body lands in ``_run``)."""

    def __init__(self, limit: int):
        super().__init__(413, f"The request body is larger than the {limit:,} byte limit.")


class Admission:
    """At most ``max_active`` requests at work and ``max_waiting`` queued for a slot; the rest are refused."""

    def __init__(self, max_active: int, max_waiting: int):
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.active = 0
        self.waiting = 0
        self._slots = anyio.Semaphore(max_active)

    @asynccontextmanager
    async def slot(self):
        """Wait for a slot (raises _Busy when the queue is full); yields a callable that frees it early."""
        if self.active + self.waiting >= self.max_active + self.max_waiting:
            raise _Busy
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self.active -= 1
                self._slots.release()

        try:
            yield release
        finally:
            release()


class Guard:
    """The middleware described in the module docstring; ``error_response`` renders the one error shape."""

    def __init__(self, app: ASGIApp, settings: Settings, admission: Admission, error_response: ErrorResponse):
        self.app = app
        self.settings = settings
        self.admission = admission
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        request = Request(scope)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            await self._refuse_body(request, receive, send)
            return
        if scope["path"].startswith(UNGATED_PATHS):
            await self._run(request, receive, send, release=lambda: None)
            return
        try:
            async with self.admission.slot() as release:
                await self._within_time_limit(request, receive, send, release)
        except _Busy:
            log.warning("request turned away: queue full", extra={
                "event": "overloaded", "method": request.method, "path": request.url.path,
                "active": self.admission.active, "waiting": self.admission.waiting})
            retry = str(self.settings.retry_after_s)
            response = self.error_response(request, 503, f"The service is busy ({self.admission.active} requests at "
                                           f"work, {self.admission.waiting} waiting). Try again in {retry} s.")
            response.headers["Retry-After"] = retry
            await response(request.scope, receive, send)

    async def _within_time_limit(self, request: Request, receive: Receive, send: Send, release) -> None:
        started, timed_out, done = False, False, anyio.Event()

        async def send_unless_timed_out(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the client already has its 504
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def run() -> None:
            try:
                await self._run(request, receive, send_unless_timed_out, release)
            finally:
                done.set()

        # The task and the worker thread it starts inherit the deadline with this context.
        token = deadline.start(self.settings.request_timeout_s)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(run)
                with anyio.move_on_after(self.settings.request_timeout_s):
                    await done.wait()
                # Nothing sent yet: the work overran, or the deadline stopped it inside the timer's last moment.
                if not started:
                    timed_out = True
                    limit = self.settings.request_timeout_s
                    log.warning("request over the time limit", extra={
                        "event": "timeout", "method": request.method, "path": request.url.path, "limit_s": limit})
                    response = self.error_response(request, 504, f"The request took longer than the {limit:g} s "
                                                   "limit and was stopped. Try a shorter question, or try again.")
                    await response(request.scope, receive, send)
        finally:
            deadline.end(token)

    async def _run(self, request: Request, receive: Receive, send: Send, release) -> None:
        """The app's own response; the error shape for a body over the limit or an error no route handled."""
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                release()  # the work is done once an answer starts: a long stream must not hold a slot
            await send(message)

        try:
            await self.app(request.scope, self._limited(receive), tracked)
        except _BodyTooLarge:
            if not started:
                await self._refuse_body(request, receive, send)
        except deadline.DeadlineExceeded as exc:
            log.warning("work stopped at the time limit", extra={
                "event": "stopped", "method": request.method, "path": request.url.path, "where": str(exc)})
        except Exception as exc:
            log.error("unhandled error", exc_info=exc, extra={
                "event": "error", "method": request.method, "path": request.url.path})
            if not started:
                response = self.error_response(request, 500, "Something went wrong on our side; the error was "
                                               "logged. Please try again.")
                await response(request.scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that raises _BodyTooLarge once the body read so far passes the limit."""
        read = 0

        async def limited() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.settings.max_body_bytes:
                raise _BodyTooLarge(self.settings.max_body_bytes)
            return message

        return limited

    async def _refuse_body(self, request: Request, receive: Receive, send: Send) -> None:
        response = self.error_response(request, 413, _BodyTooLarge(self.settings.max_body_bytes).detail)
        response.headers["Connection"] = "close"  # the rest of the body is never read
        await response(request.scope, receive, send)


def _with_security_headers(send: Send) -> Callable[[Message], Awaitable[None]]:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message = {**message, "headers": [*message.get("headers", []),
                                              *(h for h in SECURITY_HEADERS if h[0] not in present)]}
        await send(message)

    return send_with_headers
