"""The names the project accepts: a model version, a schema name.

Constants, not settings: a pattern a var could replace would validate nothing. The
macros state the same two (fraud_name_pattern() in macros/validation/fraud_name_pattern.sql); a test
checks that they agree.
"""

from __future__ import annotations

import re

NAME_PATTERNS = {
    "model_version": "[A-Za-z0-9._-]{1,128}",  # the registry's key
    "identifier": "[a-z_][a-z0-9_]{0,62}",  # a schema or column name, written into SQL unquoted
}


def name_patterns() -> dict[str, re.Pattern]:
    """{kind: compiled pattern} (kinds: model_version, identifier); match with fullmatch."""
    return {kind: re.compile(pattern) for kind, pattern in NAME_PATTERNS.items()}


def pattern(kind: str) -> re.Pattern:
    return name_patterns()[kind]
