"""The languages EDP Live speaks, and text folded across them: one source for the rules, the
pages, the templates' language pickers and the command line.

Kept free of Flask imports (the command line imports it before gevent has patched anything
else, and `analysis` stays pure).
"""
from __future__ import annotations

import unicodedata

# Code -> the language's name in itself (a picker shows each language in its own words).
LANGUAGE_NAMES = {"en": "English", "es": "Español", "pt": "Português"}
LANGUAGES = list(LANGUAGE_NAMES)
DEFAULT_LANGUAGE = "en"


def fold_accents(text: str | None) -> str:
    """The text without its accents (combining marks): "Riego de precisión, inovação" ->
    "Riego de precision, inovacao". Letters without a decomposition (ß, ø) stay."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text or "")
                   if not unicodedata.combining(ch))
