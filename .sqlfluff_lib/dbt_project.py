"""dbt_project.yml's vars for sqlfluff's jinja templater, whose var() can only render text.

fraud_stack_contract() reads vars.fraud_stack (a mapping) from here when it runs under
sqlfluff, so the linted SQL is built from the same contract as dbt's.
"""

from pathlib import Path

import yaml

vars = yaml.safe_load((Path(__file__).resolve().parent.parent / "dbt_project.yml").read_text())["vars"]  # noqa: A001
