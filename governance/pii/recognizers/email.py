"""Email addresses, validated offline.

Presidio's EmailRecognizer validates the domain with ``tldextract.extract``, whose module
extractor fetches the public suffix list from the internet on a fresh machine. This one uses
an extractor that never fetches (the suffix list shipped inside tldextract), and also accepts
the names RFC 2606 reserves for documentation and tests (``.example``, ``.test``), which
the demo data and our test data use.
"""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

_OFFLINE = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})


class CrmEmailRecognizer(EmailRecognizer):
    CONTEXT = ["email", "e-mail", "mail", "address", "reply", "contact"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            context=self.CONTEXT, supported_language=supported_language, name=type(self).__name__
        )

    def load(self) -> None:
        """Build the suffix list's lookup now (from the snapshot inside tldextract) rather
        than on the first address a request or scan meets: it takes tens of milliseconds."""
        _OFFLINE("mail.example.co.uk")

    def validate_result(self, pattern_text: str) -> bool:
        domain = pattern_text.rpartition("@")[2].lower()
        if domain.rpartition(".")[2] in _RESERVED_TLDS:
            return True
        return _OFFLINE(domain).suffix != ""
