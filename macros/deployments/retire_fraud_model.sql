{#- dbt run-operation retire_fraud_model --args '{version: V}': a challenger stops scoring. Run
    by the registry's owner (a superuser by default): it changes {schema}.deployments and
    appends to {schema}.deployment_history in one transaction; decisions follow at once, nothing
    is rescored. The same on every platform. -#}

{% macro retire_fraud_model(version) -%}
    {#- Stop scoring a challenger (its scores stay until a full refresh of fraud_scores). -#}
    {%- set schema = fraud_schema() -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set rows = run_query("select role from " ~ schema ~ ".deployments where model_version = " ~ v).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(version ~ " is not deployed") }}
    {%- elif rows[0][0] == 'champion' -%}
        {{ exceptions.raise_compiler_error(version ~ " is the champion: promote another version first") }}
    {%- endif -%}
    {%- set sql -%}
        delete from {{ schema }}.deployments where model_version = {{ v }};
        insert into {{ schema }}.deployment_history (model_version, role) values ({{ v }}, 'retired')
    {%- endset -%}
    {%- do run_query(sql) -%}
    {%- do run_query('commit') -%}
    {{ log("retired: " ~ version, info=true) }}
{%- endmacro %}
