"""The names the project accepts: a model version, a schema name.

Their one definition is vars.fraud_names in dbt_project.yml; the macros read it with
fraud_name_pattern(), this module for the Python tools (the registry).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from fraud_scoring.contract import PROJECT_FILE, project_vars


@cache
def name_patterns(path: Path | str = PROJECT_FILE) -> dict[str, re.Pattern]:
    """{kind: compiled pattern} of vars.fraud_names (kinds: model_version, identifier); match with fullmatch."""
    names = project_vars(path).get("fraud_names")
    if not isinstance(names, dict) or not {"model_version", "identifier"} <= set(names):
        raise ValueError(f"{path}: vars.fraud_names must give the model_version and identifier patterns")
    return {kind: re.compile(str(pattern)) for kind, pattern in names.items()}


def pattern(kind: str) -> re.Pattern:
    return name_patterns()[kind]
