"""gunicorn's sync worker, answering the requests gunicorn itself refuses as problem+json.

A bad request line, headers too large or too many, a URI too long or malformed chunk framing
never reach the app: gunicorn answers them from ``Worker.handle_error`` with an HTML page
that quotes what was sent, and logs the same text. What was sent can carry an e-mail in a
path or a header, and a client library expects one error format from the whole service. This
worker keeps gunicorn's choice of status and answers a problem document that names only
the kind of refusal, with our headers; its log line names the exception type, never its text.

A worker that cannot build the app (a key file or a store unreadable after the service
started) does not exit: gunicorn's master stops the whole service when a worker exits
with its boot-error code, and the service would stay down after the fault is fixed. It logs
one line naming the setting or file, waits with a doubling back-off (notifying the master,
so it is not taken for hung), and tries again; the other workers keep serving meanwhile,
and a worker asked to stop while it waits stops. The master has checked everything once
before forking (``governance.startup.check_service``), so a bad start still fails at once.

A worker dies with its master (``PR_SET_PDEATHSIG`` on Linux): a worker orphaned by a
``kill -9`` of the master would keep the listening socket for as long as it takes to
notice, and the restarted service could not bind its port meanwhile.

:class:`ProblemThreadWorker`, the one ``governance serve`` runs, is gunicorn's threaded
worker that reads each request's head (request line and headers) in its event loop, without
a thread: a connection holds a thread only once its whole head has arrived, so slow or idle
connections (a client trickling its headers, one that connects and says nothing) cost a
socket each, never a thread, and are closed after ``HEAD_TIMEOUT`` seconds. A thread reads
a body or writes an answer with ``SOCKET_TIMEOUT`` seconds at most between two packets.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import selectors
import signal
import ssl
import sys
import time
import uuid
from datetime import datetime
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker
from gunicorn.workers.sync import SyncWorker

from api.errors import PROBLEM_JSON, TYPE_BASE
from api.security_headers import (
    CLIENT_ENVIRON_KEY,
    REQUEST_ID_ENVIRON_KEY,
    ROUTE_ENVIRON_KEY,
    client_network,
    content_security_policy,
)
from governance.startup import one_line

#: Exception -> (status, reason phrase, problem type slug, detail). First match wins, so a
#: subclass comes before its base (gunicorn's InvalidResponseHeader is an InvalidHeader).
_REFUSALS: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], int, str, str, str], ...
] = (
    (
        (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName),
        500,
        "Internal Server Error",
        "internal",
        "the service failed to answer; quote the trace id to the operator",
    ),
    (
        http_errors.LimitRequestLine,
        414,
        "URI Too Long",
        "uri-too-long",
        "the request line is longer than this service accepts",
    ),
    (
        http_errors.LimitRequestHeaders,
        431,
        "Request Header Fields Too Large",
        "request-header-fields-too-large",
        "the request headers are too many or too large for this service",
    ),
    (
        http_errors.UnsupportedTransferCoding,
        501,
        "Not Implemented",
        "not-implemented",
        "this service does not support that transfer coding",
    ),
    (
        http_errors.ExpectationFailed,
        417,
        "Expectation Failed",
        "expectation-failed",
        "this service cannot meet the request's Expect header",
    ),
    (
        (http_errors.ForbiddenProxyRequest, ssl.SSLError),
        403,
        "Forbidden",
        "forbidden",
        "the connection is not allowed to send this request",
    ),
    (
        http_errors.ConfigurationProblem,
        500,
        "Internal Server Error",
        "internal",
        "the server is misconfigured; quote the trace id to the operator",
    ),
    (
        (
            http_errors.InvalidRequestLine,
            http_errors.InvalidRequestMethod,
            http_errors.InvalidHTTPVersion,
        ),
        400,
        "Bad Request",
        "bad-request",
        "the request line is not valid HTTP/1.1",
    ),
    (
        (
            http_errors.InvalidHeader,
            http_errors.InvalidHeaderName,
            http_errors.ObsoleteFolding,
            http_errors.InvalidSchemeHeaders,
        ),
        400,
        "Bad Request",
        "bad-request",
        "a request header is not valid HTTP/1.1",
    ),
    (
        (
            http_errors.InvalidChunkSize,
            http_errors.ChunkMissingTerminator,
            http_errors.InvalidChunkExtension,
        ),
        400,
        "Bad Request",
        "bad-request",
        "the chunked request body is malformed",
    ),
    (
        (http_errors.InvalidProxyLine, http_errors.InvalidH2CPreface),
        400,
        "Bad Request",
        "bad-request",
        "the connection did not start with a valid HTTP/1.1 request",
    ),
)
#: Seconds a worker that failed to boot waits before its first retry, and at most.
BOOT_RETRY_FIRST = 1.0
BOOT_RETRY_MAX = 30.0
#: Seconds a connection has to send a whole request head (line and headers) once it is
#: accepted or, kept alive, once it starts its next request; then it is closed.
HEAD_TIMEOUT = 10.0
#: A head that grows past this many bytes goes to a thread as it is; the parser then
#: refuses it with 431 if it is too large (gunicorn's limit_request_* settings).
HEAD_BUFFER_LIMIT = 64 * 1024
#: Seconds a thread waits for the next packet of a body, or for the client to take the
#: answer, before it gives the connection up.
SOCKET_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1
_UNEXPECTED = (
    500,
    "Internal Server Error",
    "internal",
    "the service failed to answer; quote the trace id to the operator",
)


def refusal(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason phrase, type slug, detail) for an error gunicorn raised."""
    for kinds, status, reason, slug, detail in _REFUSALS:
        if isinstance(exc, kinds):
            return status, reason, slug, detail
    return _UNEXPECTED


def problem_response(status: int, reason: str, slug: str, detail: str, trace_id: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, as gunicorn's own error page."""
    body = json.dumps(
        {
            "type": TYPE_BASE + slug,
            "title": reason,
            "status": status,
            "detail": detail,
            "trace_id": trace_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Trace-Id: {trace_id}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Security-Policy: {content_security_policy()}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when its parent dies (Linux; elsewhere gunicorn's
    own check of the parent between connections remains). If the parent died before the
    request, go now: nobody else would tell us."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl in this libc: gunicorn's check remains
        return
    if os.getppid() != parent:
        os._exit(0)


class _Problems:
    """What both workers add to gunicorn's: problem+json refusals, boot retries, and death
    with the master."""

    alive: bool
    ppid: int
    log: Any
    cfg: Any

    def load_wsgi(self) -> None:
        """Build the app; on failure, one log line and a retry after a back-off."""
        # Here, not in post_fork: gunicorn changes the user (which clears the death signal)
        # after the fork, before it builds the app.
        die_with_parent(self.ppid)
        delay, failures = BOOT_RETRY_FIRST, 0
        while True:
            try:
                super().load_wsgi()  # type: ignore[misc]
                break
            except Exception as exc:  # noqa: BLE001 - every boot failure is retried
                failures += 1
                self.log.error(
                    "worker %s cannot start: %s; attempt %d failed, next in %ds",
                    os.getpid(),
                    one_line(exc),
                    failures,
                    round(delay),
                )
            self._wait(delay)
            delay = min(delay * 2, BOOT_RETRY_MAX)
        if failures:
            self.log.warning("worker %s started after %d failed attempt(s)", os.getpid(), failures)

    def _wait(self, seconds: float) -> None:
        """Sleep, telling the master this worker is alive; leave if told to stop."""
        until = time.monotonic() + seconds
        while self.alive and time.monotonic() < until:
            self.notify()  # type: ignore[attr-defined]
            time.sleep(min(0.5, max(0.0, until - time.monotonic())))
        if not self.alive:
            sys.exit(0)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket
        status, reason, slug, detail = refusal(exc)
        trace_id = uuid.uuid4().hex
        if status >= 500:
            self.log.error("error handling request %s: %s", trace_id, type(exc).__name__)
        else:
            self.log.warning(
                "refused request %s from %s with %d: %s",
                trace_id,
                client_network(addr[0]),
                status,
                type(exc).__name__,
            )
        if req is None and isinstance(
            exc, (http_errors.InvalidHeader, http_errors.InvalidHeaderName)
        ):
            req = getattr(exc, "req", None)  # as gunicorn does, for the access log
        if req is not None and hasattr(req, "body"):
            try:
                self._log_access(req, client, addr, status, reason, trace_id, started)
            except Exception:  # noqa: BLE001 - a log line must not take the worker down
                self.log.debug("could not write the access log line of a refused request")
        try:
            util.write_nonblock(client, problem_response(status, reason, slug, detail, trace_id))
        except Exception:  # noqa: BLE001 - the client is gone; nothing to answer
            self.log.debug("failed to send the error answer")

    def _log_access(
        self,
        req: Any,
        client: Any,
        addr: Any,
        status: int,
        reason: str,
        trace_id: str,
        started: datetime,
    ) -> None:
        environ = default_environ(req, client, self.cfg)
        environ.update(
            {
                "REMOTE_ADDR": addr[0],
                "REMOTE_PORT": str(addr[1]),
                CLIENT_ENVIRON_KEY: client_network(addr[0]),
                ROUTE_ENVIRON_KEY: "(refused by the server)",
                REQUEST_ID_ENVIRON_KEY: trace_id,
            }
        )
        response = Response(req, client, self.cfg)
        response.status = f"{status} {reason}"
        response.response_length = 0
        self.log.access(response, req, environ, datetime.now() - started)


class ProblemWorker(_Problems, SyncWorker):
    """The sync worker with gunicorn's error page replaced (a worker class for
    ``api.serving.gunicorn_options``; the service runs :class:`ProblemThreadWorker`)."""


class _HeadConn(TConn):
    """A connection whose request head the event loop gathers before a thread takes it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.head = bytearray()
        self.head_deadline = 0.0

    def init(self) -> None:
        super().init()
        if self.head:  # what the event loop read, given back to the parser
            self.parser.unreader.unread(bytes(self.head))
            self.head = bytearray()
        self.sock.settimeout(SOCKET_TIMEOUT)


class ProblemThreadWorker(_Problems, ThreadWorker):
    """gunicorn's threaded worker with our refusals, and request heads read without a
    thread (``worker_class`` in ``api.serving.gunicorn_options``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gathering: dict[_HeadConn, None] = {}  # oldest first

    def _gathers(self, client: Any) -> bool:
        # TLS and HTTP/2 prior knowledge read their first bytes themselves (not served so
        # here: a proxy terminates TLS in front); those connections go as gunicorn sends them.
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(self.cfg, client)

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = _HeadConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self._gathers(client_addr):
            self._gather(conn)
        else:
            client_sock.setblocking(True)
            self.enqueue_req(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection starts its next request: gather its head first."""
        if not isinstance(conn, _HeadConn) or not self._gathers(conn.client):
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._gather(conn)

    def _gather(self, conn: _HeadConn) -> None:
        conn.sock.setblocking(False)
        conn.head_deadline = time.monotonic() + HEAD_TIMEOUT
        self.gathering[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head, conn))

    def _on_head(self, conn: _HeadConn, client: Any) -> None:
        try:
            chunk = conn.sock.recv(HEAD_BUFFER_LIMIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was complete
            self._drop(conn)
            return
        conn.head += chunk
        if b"\r\n\r\n" in conn.head or len(conn.head) >= HEAD_BUFFER_LIMIT:
            self.poller.unregister(conn.sock)
            del self.gathering[conn]
            conn.data_ready = True
            self.enqueue_req(conn)

    def _drop(self, conn: _HeadConn) -> None:
        self.gathering.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (OSError, KeyError, ValueError):
            pass  # already unregistered
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also close the connections whose head did not arrive in time (all of them once
        the worker stops: none of them has a request to finish)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in list(self.gathering):
            if conn.head_deadline > now and self.alive:
                break
            self._drop(conn)
