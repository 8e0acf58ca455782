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
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import uuid
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.wsgi import Response, default_environ
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
_REFUSALS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int, str, str,
                       str], ...] = (
    ((http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName), 500,
     "Internal Server Error", "internal",
     "the service failed to answer; quote the trace id to the operator"),
    (http_errors.LimitRequestLine, 414, "URI Too Long", "uri-too-long",
     "the request line is longer than this service accepts"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large",
     "request-header-fields-too-large",
     "the request headers are too many or too large for this service"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented", "not-implemented",
     "this service does not support that transfer coding"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed", "expectation-failed",
     "this service cannot meet the request's Expect header"),
    ((http_errors.ForbiddenProxyRequest, ssl.SSLError), 403, "Forbidden", "forbidden",
     "the connection is not allowed to send this request"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error", "internal",
     "the server is misconfigured; quote the trace id to the operator"),
    ((http_errors.InvalidRequestLine, http_errors.InvalidRequestMethod,
      http_errors.InvalidHTTPVersion), 400, "Bad Request", "bad-request",
     "the request line is not valid HTTP/1.1"),
    ((http_errors.InvalidHeader, http_errors.InvalidHeaderName, http_errors.ObsoleteFolding,
      http_errors.InvalidSchemeHeaders), 400, "Bad Request", "bad-request",
     "a request header is not valid HTTP/1.1"),
    ((http_errors.InvalidChunkSize, http_errors.ChunkMissingTerminator,
      http_errors.InvalidChunkExtension), 400, "Bad Request", "bad-request",
     "the chunked request body is malformed"),
    ((http_errors.InvalidProxyLine, http_errors.InvalidH2CPreface), 400, "Bad Request",
     "bad-request", "the connection did not start with a valid HTTP/1.1 request"),
)
#: Seconds a worker that failed to boot waits before its first retry, and at most.
BOOT_RETRY_FIRST = 1.0
BOOT_RETRY_MAX = 30.0
_UNEXPECTED = (500, "Internal Server Error", "internal",
               "the service failed to answer; quote the trace id to the operator")


def refusal(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason phrase, type slug, detail) for an error gunicorn raised."""
    for kinds, status, reason, slug, detail in _REFUSALS:
        if isinstance(exc, kinds):
            return status, reason, slug, detail
    return _UNEXPECTED


def problem_response(status: int, reason: str, slug: str, detail: str, trace_id: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, as gunicorn's own error page."""
    body = json.dumps({"type": TYPE_BASE + slug, "title": reason, "status": status,
                       "detail": detail, "trace_id": trace_id}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            f"Content-Type: {PROBLEM_JSON}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Trace-Id: {trace_id}\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Cache-Control: no-store\r\n"
            f"Content-Security-Policy: {content_security_policy()}\r\n"
            "\r\n")
    return head.encode("latin-1") + body


class ProblemWorker(SyncWorker):  # type: ignore[misc]
    """The sync worker with gunicorn's error page replaced (``worker_class`` in
    ``api.serving.gunicorn_options``)."""

    def load_wsgi(self) -> None:
        """Build the app; on failure, one log line and a retry after a back-off."""
        delay, failures = BOOT_RETRY_FIRST, 0
        while True:
            try:
                super().load_wsgi()
                break
            except Exception as exc:  # noqa: BLE001 - every boot failure is retried
                failures += 1
                self.log.error("worker %s cannot start: %s; attempt %d failed, next in %ds",
                               os.getpid(), one_line(exc), failures, round(delay))
            self._wait(delay)
            delay = min(delay * 2, BOOT_RETRY_MAX)
        if failures:
            self.log.warning("worker %s started after %d failed attempt(s)", os.getpid(),
                             failures)

    def _wait(self, seconds: float) -> None:
        """Sleep, telling the master this worker is alive; leave if told to stop."""
        until = time.monotonic() + seconds
        while self.alive and time.monotonic() < until:
            self.notify()
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
            self.log.warning("refused request %s from %s with %d: %s", trace_id,
                             client_network(addr[0]), status, type(exc).__name__)
        if req is None and isinstance(exc, (http_errors.InvalidHeader,
                                            http_errors.InvalidHeaderName)):
            req = getattr(exc, "req", None)  # as gunicorn does, for the access log
        if req is not None and hasattr(req, "body"):
            try:
                self._log_access(req, client, addr, status, reason, trace_id, started)
            except Exception:  # noqa: BLE001 - a log line must not take the worker down
                self.log.debug("could not write the access log line of a refused request")
        try:
            util.write_nonblock(client, problem_response(status, reason, slug, detail,
                                                         trace_id))
        except Exception:  # noqa: BLE001 - the client is gone; nothing to answer
            self.log.debug("failed to send the error answer")

    def _log_access(self, req: Any, client: Any, addr: Any, status: int, reason: str,
                    trace_id: str, started: datetime) -> None:
        environ = default_environ(req, client, self.cfg)
        environ.update({"REMOTE_ADDR": addr[0], "REMOTE_PORT": str(addr[1]),
                        CLIENT_ENVIRON_KEY: client_network(addr[0]),
                        ROUTE_ENVIRON_KEY: "(refused by the server)",
                        REQUEST_ID_ENVIRON_KEY: trace_id})
        response = Response(req, client, self.cfg)
        response.status = f"{status} {reason}"
        response.response_length = 0
        self.log.access(response, req, environ, datetime.now() - started)
