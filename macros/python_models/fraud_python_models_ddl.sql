-- sqlfluff:exclude_rules:LT02
-- (the DDL holds PL/Python bodies, which keep Python's own indentation)
{#- The install's DDL for Python models (rendered into fraud_scoring_ddl): the table of
    published code and the functions run_python_model and publish_python_model. -#}

{% macro fraud_python_models_ddl(schema) -%}
{#- What dbt Python models run through (docs/python-models.md), installed with the scoring
    functions by install_fraud_scoring (a superuser: plpython3u is untrusted).
    python_models holds each model's PUBLISHED code: only its owner writes it
    (publish_python_model is not granted to anyone), so a role that runs dbt can run
    reviewed code only. run_python_model is SECURITY INVOKER on purpose: the code reads
    and writes with the privileges of the role running dbt, never the installer's. -#}
create table if not exists {{ schema }}.python_models (
    unique_id text primary key,
    path text not null,
    code text not null,
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    published_at timestamptz not null default clock_timestamp(),
    published_by text not null default current_user
){{ fraud_install_table_distribution() }};

-- Runs the published code of context's unique_id, which must equal `code` (the caller's
-- copy, compared by sha256), and writes what model() returns into context's target.
-- context is data (JSON: relations, config, this, is_incremental), never executed.
create or replace function {{ schema }}.run_python_model(context text, code text)
returns text
language plpython3u
volatile{{ fraud_install_parallel_label('unsafe') }}
as $fraud_python$
{{ _fraud_python_import('run_model') }}
try:
    return run_model(plpy, '{{ schema }}', context, code)
except PythonModelError as exc:
    plpy.error(str(exc))
$fraud_python$;

-- The owner's alone (revoked from PUBLIC in fraud_grant_scoring, granted to nobody):
-- records a model's code as published.
create or replace function {{ schema }}.publish_python_model(unique_id text, path text, code text)
returns text
language plpython3u
volatile{{ fraud_install_parallel_label('unsafe') }}
as $fraud_python$
{{ _fraud_python_import('publish_model') }}
return publish_model(plpy, '{{ schema }}', unique_id, path, code)
$fraud_python$;
{%- endmacro %}

{% macro _fraud_python_import(entry) -%}
{#- The start of each body: the runner is the installed fraud_scoring package; without it
    (or without pandas, checked when a model runs) the error names the fix. -#}
try:
    from fraud_scoring.pymodel_run import PythonModelError, {{ entry }}
except ImportError as exc:
    plpy.error(
        'dbt Python models: the Python package fraud_scoring cannot be imported by this server (%s): install it '
        'into the Python the server uses (`make venv` for the project venv; elsewhere `pip install --no-deps '
        '<checkout>` into the venv on the server\'s PYTHONPATH)' % exc
    )
{%- endmacro %}
