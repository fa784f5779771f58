"""The word pattern and the letters of names, shared by the recognisers, the allowlist and the
name finder (which fold text with :func:`pipeline.text.fold_one_for_one`, so offsets survive)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# The upper- and lower-case letters a name in a Latin-script language is written with: Spanish,
# English, French, Portuguese, Danish, Norwegian, Swedish, German.
_UPPER = "A-ZÁÉÍÓÚÑÜÀÈÌÒÙÂÊÎÔÛÇÃÕÆØÅÄÖ"
_LOWER = "a-záéíóúñüàèìòùâêîôûçãõæøåäöß"
# Words that join the parts of a name ("María de la Cruz"), not names themselves.
_CONNECTORS = {"de", "del", "la", "las", "los", "y", "e", "da", "do", "van", "von"}


