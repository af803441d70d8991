{#- The lock a Python model's run takes first, so two runs of one model wait for each
    other instead of colliding. The same on every platform. -#}

{% macro fraud_python_lock_sql(relation) -%}
    {#- One run of a Python model at a time: a transaction-level advisory lock keyed on the
        relation's name. A second `dbt run` of the same model waits here, then builds on
        what the first committed, instead of colliding with its intermediate relation. -#}
    select pg_advisory_xact_lock(hashtext({{ fraud_quote_literal('fraud_python_model:' ~ relation) }}))
{%- endmacro %}
