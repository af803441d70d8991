"""Copy fraud_scorer.py into a dbt macro, so the PL/Python body is a real module.

python -m scoring.build_udf          # rewrite the generated macro
python -m scoring.build_udf --check  # exit 1 when it is out of date (make lint, tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "scoring" / "fraud_scorer.py"
TARGET = ROOT / "macros" / "_generated" / "fraud_scorer_py.sql"
DOLLAR_TAG = "$fraud_scorer$"


def render() -> str:
    source = SOURCE.read_text()
    for forbidden in (DOLLAR_TAG, "{% endraw %}", "{%- endraw"):
        if forbidden in source:
            raise SystemExit(f"{SOURCE} must not contain {forbidden!r}: it would end the generated macro early")
    return (
        "{#- GENERATED from scoring/fraud_scorer.py by `python -m scoring.build_udf`: do not edit. -#}\n"
        "{% macro _fraud_scorer_py() -%}\n{% raw %}" + source + "{% endraw %}\n{%- endmacro %}\n"
    )


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run `python -m scoring.build_udf`", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
