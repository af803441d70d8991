{#- A fingerprint of the rows of tables, reached through views. The same on every platform
    (each table's part is fraud_row_versions_sql, per platform). -#}

{% macro fraud_tables_fingerprint(relations) -%}
    {#- md5 of every table `relations` name or read through views (pg_rewrite's
        dependencies, followed to tables and materialized views): each one's oid, data
        file, row count and the sum of its rows' hashes (fraud_row_versions_sql). Any
        insert, update, delete, truncate or reload changes it. A relation that is
        neither (a foreign table, a sequence) gives a fingerprint that never repeats,
        so nothing that reads it is ever taken for unchanged. -#}
    {%- set names = [] -%}
    {%- for r in relations -%}
        {%- do names.append(fraud_quote_literal(r) ~ '::regclass') -%}
    {%- endfor -%}
    {%- set reached = run_query(
        "with recursive reached(oid) as (select unnest(array[" ~ names | join(', ') ~ "]::oid[]) union "
        ~ "select d.refobjid from reached inner join pg_rewrite as r on r.ev_class = reached.oid "
        ~ "inner join pg_depend as d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid "
        ~ "and d.refclassid = 'pg_class'::regclass and d.refobjid != reached.oid) "
        ~ "select c.oid::regclass::text, c.relkind::text, c.oid::text || '/' || c.relfilenode::text "
        ~ "from reached inner join pg_class as c on reached.oid = c.oid where c.relkind != 'v' order by 3"
    ) -%}
    {%- set parts = [] -%}
    {%- for row in reached.rows -%}
        {%- if row[1] not in ('r', 'p', 'm') -%}
            {{ return(local_md5(modules.datetime.datetime.now().isoformat() ~ row[0])) }}
        {%- endif -%}
        {%- do parts.append("select " ~ fraud_quote_literal(row[2]) ~ " || ':' || ("
            ~ fraud_row_versions_sql(row[0]) ~ ")") -%}
    {%- endfor -%}
    {%- if not parts -%}
        {{ return(local_md5('')) }}
    {%- endif -%}
    {%- set hashes = run_query(parts | join(' union all ')).columns[0].values() | sort -%}
    {{ return(local_md5(hashes | join('|'))) }}
{%- endmacro %}
