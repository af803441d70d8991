{#- The raw table's identity (oid and data file): stacks and scores of a replaced or truncated
    source are told apart by it. The same on every platform. -#}

{% macro fraud_source_table_id(relation=none) -%}
    {#- SQL for the raw table's identity (or `relation`'s): its oid and its data file. A
        reload that swaps in a new table (the loader) or truncates and refills it changes
        it, so stacks built from earlier data are never taken for current ones. The
        change log's trigger function (postgres__fraud_install_change_log) computes the
        same from tg_relid. -#}
    (
        select c.oid::text || '/' || c.relfilenode::text
        from pg_class as c
        where c.oid = {{ fraud_quote_literal(relation if relation is not none else source('raw', 'credit_card')) }}::regclass
    )
{%- endmacro %}
