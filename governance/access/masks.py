"""The masks a policy decision applies to a returned value.

Each takes the JSON value the store returned and gives what the application may see. None
stays None (nothing to hide). ``hash`` is keyed (a key derived from the key provider, so it
cannot be recomputed from a guess without the service) and the same for a value in any
field, so pseudonymous ids still join across collections.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from policies.access import Mask

HASH_HEX = 32  # 128 bits: collision-free in practice, and short in analytics exports


class Masker:
    def __init__(self, hash_key: bytes, redact: Callable[[str], str]) -> None:
        self._hash_key = hash_key
        self._redact = redact
        self._apply: dict[Mask, Callable[[Any], Any]] = {
            Mask.LAST4: self.last4,
            Mask.EMAIL_DOMAIN: self.email_domain,
            Mask.HASH: self.hash,
            Mask.REDACT_PII: self.redact_pii,
            Mask.YEAR_ONLY: self.year_only,
            Mask.NULL: lambda value: None,
        }

    def apply(self, mask: Mask, value: Any) -> Any:
        if value is None:
            return None
        return self._apply[mask](value)

    @staticmethod
    def last4(value: Any) -> str:
        text = str(value)
        return "****" + text[-4:] if len(text) > 4 else "****"

    @staticmethod
    def email_domain(value: Any) -> str:
        text = str(value)
        return "***@" + text.rsplit("@", 1)[1] if "@" in text else "***"

    def hash(self, value: Any) -> str:
        return hmac.digest(self._hash_key, str(value).encode("utf-8"), "sha256").hex()[:HASH_HEX]

    def redact_pii(self, value: Any) -> str:
        return self._redact(str(value))

    @staticmethod
    def year_only(value: Any) -> str:
        return str(value)[:4]  # dates and times are ISO 8601 strings by now
