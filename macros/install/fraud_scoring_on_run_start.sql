{#- on-run-start (dbt_project.yml): install when missing or outdated and allowed to; otherwise
    fail naming the command an administrator has to run; then log the source's writes
    (fraud_track_source_writes). Its platform differences are in the macros it calls:
    fraud_scoring_version, install_fraud_scoring, fraud_track_source_writes. -#}

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
        {%- do fraud_track_source_writes() -%}
    {%- endif -%}
    select 1
{%- endmacro %}
