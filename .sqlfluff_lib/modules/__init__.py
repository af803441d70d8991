"""dbt's `modules` context for sqlfluff's jinja templater (our macros validate vars with modules.re)."""

import re  # noqa: F401
