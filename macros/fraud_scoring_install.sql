-- sqlfluff:exclude_rules:LT02
-- (the DDL script holds a PL/Python body, which keeps Python's own indentation)
{#- Install the scoring function and the model registry (superuser: plpython3u is untrusted). -#}

{% macro install_fraud_scoring() -%}
    {%- set schema = fraud_schema() -%}
    {%- set version = fraud_scoring_version() -%}
    {%- do run_query(fraud_scoring_ddl(schema)) -%}
    {#- The one directory model files may be read from (var fraud_model_dir); kept
        as it is unless the var is given, so an automatic upgrade does not reset it. -#}
    {%- set model_dir = var('fraud_model_dir', none) -%}
    {%- if model_dir is not none -%}
        {%- if model_dir != '' and not modules.re.fullmatch('/[A-Za-z0-9._/-]*', model_dir | string) -%}
            {{ exceptions.raise_compiler_error(
                "var fraud_model_dir must be an absolute path of letters, digits, '.', '_', '-' and '/', got "
                ~ (model_dir | string | tojson)
            ) }}
        {%- endif -%}
        {%- do run_query(
            "insert into " ~ schema ~ ".installation (component, version) values ('model_dir', "
            ~ fraud_quote_literal(model_dir) ~ ") "
            ~ "on conflict (component) do update set version = excluded.version, installed_at = now()"
        ) -%}
    {%- endif -%}
    {%- do run_query(
        "insert into " ~ schema ~ ".installation (component, version) values ('score_stack', '" ~ version ~ "') "
        ~ "on conflict (component) do update set version = excluded.version, installed_at = now()"
    ) -%}
    {{ log("installed fraud scoring " ~ version ~ " in schema " ~ schema, info=true) }}
{%- endmacro %}

{% macro fraud_scoring_version() -%}
    {#- Changes whenever the function body or the DDL changes, so an outdated
        installation is detected. -#}
    {{ return(local_md5(fraud_scoring_ddl('x'))[:12]) }}
{%- endmacro %}

{% macro fraud_scoring_ddl(schema) -%}
    {{ return(adapter.dispatch('fraud_scoring_ddl', 'fraud_scoring')(schema)) }}
{%- endmacro %}

{% macro default__fraud_scoring_ddl(schema) -%}
create schema if not exists {{ schema }};

create table if not exists {{ schema }}.models (
    model_version text primary key check (model_version ~ '^[A-Za-z0-9._-]{1,128}$'),
    model_name text not null,
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    model_h5 bytea not null,
    metadata jsonb not null,
    registered_at timestamptz not null default clock_timestamp()
);

create table if not exists {{ schema }}.installation (
    component text primary key,
    version text not null,
    installed_at timestamptz not null default now()
);

do $$
begin
    if to_regtype('{{ schema }}.scored_stack') is null then
        create type {{ schema }}.scored_stack as (transaction_ids bigint[], probabilities float8[]);
    end if;
end
$$;

{%- for engine in ['numpy', 'keras'] %}

-- stable, not immutable: it reads the registry. parallel unsafe: PL/Python runs
-- each plpy.execute in a subtransaction, which PostgreSQL forbids while a query
-- runs in parallel mode ("cannot start subtransactions during a parallel
-- operation", seen here when the planner chose a parallel scan at 250k rows).
create or replace function {{ schema }}.score_stack_{{ engine }}(stack bytea, n_rows bigint, model_ref text)
returns {{ schema }}.scored_stack
language plpython3u
stable strict parallel unsafe
as $fraud_scorer$
{{ _fraud_scorer_py() }}
try:
    return score_stack_in_database(plpy, SD, '{{ schema }}', stack, n_rows, model_ref, '{{ engine }}')
except ScoringError as exc:
    plpy.error('fraud scoring: %s' % exc)
$fraud_scorer$;
{%- endfor %}

-- what dbt needs to know, at compile time, of a model file (var fraud_model_path)
create or replace function {{ schema }}.model_file_info(path text)
returns table (model_version text, sha256 text, threshold float8)
language plpython3u
stable strict parallel unsafe
as $fraud_scorer$
{{ _fraud_scorer_py() }}
try:
    return model_file_info(plpy, SD, '{{ schema }}', path)
except ScoringError as exc:
    plpy.error('fraud scoring: %s' % exc)
$fraud_scorer$;
{%- endmacro %}

{% macro fraud_scoring_on_run_start() -%}
    {#- Install when we may (a superuser) and must (missing or outdated);
        otherwise fail with the command an administrator has to run. -#}
    {%- if execute -%}
        {%- set schema = fraud_schema() -%}
        {%- set expected = fraud_scoring_version() -%}
        {%- set is_superuser = run_query("select rolsuper from pg_roles where rolname = current_user").rows[0][0] -%}
        {%- set installed = none -%}
        {%- if run_query("select to_regclass('" ~ schema ~ ".installation') is not null").rows[0][0] -%}
            {%- set found = run_query(
                "select version from " ~ schema ~ ".installation where component = 'score_stack'"
            ).rows -%}
            {%- set installed = found[0][0] if found | length else none -%}
        {%- endif -%}
        {%- if installed != expected -%}
            {%- if is_superuser -%}
                {%- do install_fraud_scoring() -%}
            {%- else -%}
                {%- set state = "missing" if installed is none
                    else "outdated (installed " ~ installed ~ ", this project needs " ~ expected ~ ")" -%}
                {{ exceptions.raise_compiler_error(
                    "fraud scoring functions in schema " ~ schema ~ " are " ~ state
                    ~ ": ask a database superuser to run `dbt run-operation install_fraud_scoring`"
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
