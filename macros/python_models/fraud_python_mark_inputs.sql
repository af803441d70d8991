{#- What a Python model's table was built from, recorded on it for the next run's
    fraud_python_inputs_unchanged. The same on every platform. -#}

{% macro fraud_python_mark_inputs(relation, inputs) -%}
    {#- In the run's transaction, after the table is written: the table's comment ends with
        `fraud-python-inputs: <definition and inputs> <the table's own rows>` (after its
        description where persist_docs writes one). Only the table's owner may comment on
        it: another role's run leaves no mark, and the next run builds. -#}
    {%- if inputs is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set owned = run_query(
        "select pg_has_role(c.relowner, 'USAGE') from pg_class as c where c.oid = "
        ~ fraud_quote_literal(relation) ~ "::regclass"
    ).rows[0][0] -%}
    {%- if not owned -%}
        {{ return('') }}
    {%- endif -%}
    {%- set description = model.description if config.persist_relation_docs() and model.description else '' -%}
    {%- set mark = 'fraud-python-inputs: ' ~ inputs ~ ' ' ~ fraud_tables_fingerprint([relation]) -%}
    {%- do run_query('comment on table ' ~ relation ~ ' is '
        ~ fraud_quote_literal((description ~ '\n\n' if description else '') ~ mark)) -%}
{%- endmacro %}
