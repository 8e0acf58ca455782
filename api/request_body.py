"""Read a request body safely before any view sees it.

Two things the JSON parsers downstream (webargs, then marshmallow and our own code) do not
guard against, and that would otherwise end as a 500 or a wrong status:

- **Size of a chunked body.** With no Content-Length, werkzeug's stream stops silently at
  ``MAX_CONTENT_LENGTH`` and the parser sees truncated JSON (a misleading 400). The body is
  read here up to one byte past the limit, so an oversized one is a 413 like any other.
- **JSON the rest of the service cannot hold.** A lone UTF-16 surrogate (``"\\ud800"``) is
  valid JSON syntax but no Unicode text: it cannot be encoded, so it fails deep inside a
  database driver or the audit log. JSON nested thousands deep overflows Python's stack
  in the parser or any recursive walk after it. Both are refused as ``invalid-json`` (400),
  the same answer as JSON that does not parse, and neither the value nor the key is echoed.

The check parses the body once with the standard library; webargs parses it again, which
costs microseconds for the bodies this API takes.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from flask import request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import RequestEntityTooLarge

from governance.errors import BadRequest

#: Deeper than any body this API declares (the deepest, a data write, is three levels),
#: far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 32
_READ_CHUNK = 65_536
# A surrogate can only enter a parsed string through a \uD800-\uDFFF escape: bodies
# without one (nearly all) skip the encode check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class InvalidJson(BadRequest):
    type = "invalid-json"


def buffer_unsized_body(max_bytes: int) -> None:
    """Read a body sent without Content-Length (chunked) into memory, refusing more than
    ``max_bytes`` with 413. Called before anything touches ``request.stream``."""
    environ = request.environ
    if request.content_length is not None or not environ.get("wsgi.input_terminated"):
        # A sized body is capped by werkzeug; a server that does not terminate the input
        # gives the app an empty stream (werkzeug's safe fallback), so there is nothing to read.
        return
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= max_bytes:
            chunk = stream.read(min(_READ_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (ParseException, OSError):
        # gunicorn parses the chunk framing as the body is read: a malformed chunk or a
        # client gone mid-body is the client's error, not the service's.
        raise BadRequest(
            "the chunked request body could not be read (malformed chunk "
            "framing or an incomplete body)"
        ) from None
    if size > max_bytes:
        raise RequestEntityTooLarge("the request body is larger than this service accepts")
    environ["wsgi.input"] = io.BytesIO(b"".join(chunks))


def refuse_unholdable_json() -> None:
    """400 ``invalid-json`` for a JSON body nested deeper than :data:`MAX_JSON_DEPTH` or
    holding a lone surrogate in any string or key. A body that does not parse at all is left
    to webargs, which answers its own 400."""
    raw = request.get_data(cache=True)
    if not raw:
        return
    try:
        document = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # not JSON, or not UTF-8: webargs says so
        return
    if _depth_exceeds(document, MAX_JSON_DEPTH):
        raise _too_deep()
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJson(
                "the body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its "
                "pair), which is not text; send UTF-8 or escape whole characters"
            ) from None


def _too_deep() -> InvalidJson:
    return InvalidJson(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")


def _depth_exceeds(document: Any, limit: int) -> bool:
    # Iterative, so a document just under the parser's own limit cannot overflow us.
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
