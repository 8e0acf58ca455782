"""Response headers that keep personal data out of caches and browsers' guesses, set once.

- ``Cache-Control: no-store`` on every ``/v1`` answer: records, consent histories, exports,
  audit events and new API keys must not be kept by a proxy or a browser cache.
- ``X-Content-Type-Options: nosniff`` everywhere, so a JSON body is never run as a script.
- A Content-Security-Policy on everything: JSON answers may load nothing; ``/docs`` may
  use only its own inline stylesheet, named by hash (the one place that builds the policy).
- The access log gets the route template and our request id (via the WSGI environ), never
  the raw path, which can carry an e-mail address as a path segment; and the client's
  network (:func:`client_network`: the address with its host part cut off), never the
  address itself, which is personal data of whoever sits behind it (an officer's browser).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress

from flask import Response, g, request

#: Environ keys the access log format reads (api.serving.gunicorn_options).
ROUTE_ENVIRON_KEY = "gateway.route"
REQUEST_ID_ENVIRON_KEY = "gateway.request_id"
CLIENT_ENVIRON_KEY = "gateway.client"
# how much of a client address the logs keep: the network, as analytics tools anonymise
# addresses (an IPv4 /24, an IPv6 /48): enough to tell an office, a VPN or a cloud region
# apart in an incident, not enough to single out one person's machine
IPV4_PREFIX = 24
IPV6_PREFIX = 48

_LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def content_security_policy(*, inline_styles: tuple[str, ...] = ()) -> str:
    if not inline_styles:
        return _LOCKED_DOWN
    hashes = " ".join(style_hash(css) for css in inline_styles)
    return f"{_LOCKED_DOWN}; style-src {hashes}"


def _octet(text: str) -> bool:
    """Whether ``text`` is one part of a dotted quad as ``ipaddress`` reads it: 0-255 in
    ASCII digits, no leading zero."""
    return (
        0 < len(text) <= 3
        and text.isascii()
        and text.isdigit()
        and int(text) < 256
        and (text == "0" or text[0] != "0")
    )


def client_network(address: str | None) -> str:
    """The network of a client address for the logs ("192.0.2.0/24"); "-" for none (a unix
    socket) or for anything that is not an IP address. Every request's access line asks, so a
    dotted quad is cut as text (0.5 us); anything else goes through ``ipaddress`` (7 us)."""
    head, dot, last = (address or "").strip().rpartition(".")
    octets = head.split(".")
    if IPV4_PREFIX == 24 and dot and len(octets) == 3 and all(map(_octet, (*octets, last))):
        return f"{head}.0/24"
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers["Referrer-Policy"] = "no-referrer"
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy look-up
    if req.path.startswith("/v1/"):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    rule = req.url_rule.rule if req.url_rule is not None else "(unmatched)"
    environ = req.environ
    environ[ROUTE_ENVIRON_KEY] = rule
    environ[REQUEST_ID_ENVIRON_KEY] = getattr(g, "request_id", "-")
    environ[CLIENT_ENVIRON_KEY] = client_network(environ.get("REMOTE_ADDR"))
    return response
