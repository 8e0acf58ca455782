"""The shape every pattern recognizer of ours shares: patterns, context words and entity
declared on the class, the class name as the recognizer's name."""

from __future__ import annotations

from typing import ClassVar

import regex
from presidio_analyzer import Pattern, PatternRecognizer


class DeclaredPatternRecognizer(PatternRecognizer):
    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]
    CONTEXT: ClassVar[list[str]] = []
    # Presidio's default is case-insensitive; a recognizer that needs case says so here.
    REGEX_FLAGS: ClassVar[int] = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name=type(self).__name__,
            global_regex_flags=self.REGEX_FLAGS,
        )
