"""Text folding (lower case without accents, one character for one, so offsets survive), the
word pattern and the letters of names, shared by the recognisers, the allowlist and the name
finder."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# The upper- and lower-case letters a name in a Latin-script language is written with: Spanish,
# English, French, Portuguese, Danish, Norwegian, Swedish, German.
_UPPER = "A-ZÁÉÍÓÚÑÜÀÈÌÒÙÂÊÎÔÛÇÃÕÆØÅÄÖ"
_LOWER = "a-záéíóúñüàèìòùâêîôûçãõæøåäöß"
# Words that join the parts of a name ("María de la Cruz"), not names themselves.
_CONNECTORS = {"de", "del", "la", "las", "los", "y", "e", "da", "do", "van", "von"}


class _FoldTable(dict):
    """str.translate table: each character to its lower-case, unaccented form, if that is one
    character (so offsets survive folding); filled as characters are met."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = unicodedata.normalize("NFD", char)[0].lower()
        self[code] = folded if len(folded) == 1 else char
        return self[code]


_FOLD = _FoldTable()


def _fold(text: str) -> str:
    """Lower case without accents, one character for one."""
    return text.translate(_FOLD)
