{#- dbt run-operation rollback_fraud_model: the champion before the current one decides again.
    Run by the registry's owner (a superuser by default): it changes {schema}.deployments and
    appends to {schema}.deployment_history in one transaction; decisions follow at once, nothing
    is rescored. The same on every platform. -#}

{% macro rollback_fraud_model(reason=none) -%}
    {#- The champion before the current one becomes champion again. -#}
    {%- set schema = fraud_schema() -%}
    {%- set sql -%}
        select history.model_version
        from {{ schema }}.deployment_history as history
        where
            history.role = 'champion'
            and history.model_version is distinct from (
                select deployments.model_version from {{ schema }}.deployments as deployments
                where deployments.role = 'champion'
            )
        order by history.changed_at desc
        limit 1
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error("no earlier champion in " ~ schema ~ ".deployment_history to roll back to") }}
    {%- endif -%}
    {%- do _fraud_promote(rows[0][0], none, reason, 'rollback_fraud_model') -%}
{%- endmacro %}
