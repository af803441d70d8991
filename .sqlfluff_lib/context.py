"""dbt's `context` for sqlfluff's jinja templater: fraud_dispatch() looks macros up by name.

In dbt, `context` holds everything a macro can see, so context.get('postgres__x') is that
macro. Here the same lookup reads the active Jinja context, where sqlfluff has put every
macro of load_macros_from_path: the models are linted with the dispatched SQL expanded
(PostgreSQL's, as sqlfluff's fraud_platform() is 'postgres': `execute` is undefined here).
"""

from jinja2 import pass_context
from jinja2.utils import missing


@pass_context
def get(active, name, default=None):
    value = active.resolve_or_missing(name)
    return default if value is missing else value
