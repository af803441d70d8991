{#- A Python model (.py) built as a table inside the database: what the table
    materialization (macros/materializations/table.sql) calls for Python models. The same on
    PostgreSQL and Greenplum / Cloudberry (the code runs where run_python_model runs). -#}

{% macro fraud_python_table() -%}
    {#- A Python model as a table, built inside the database and swapped in atomically.
        The model's code runs in {schema}.run_python_model and writes what model()
        returns into a new relation; the old relation is renamed away, the new one renamed
        in and the old one dropped, all in one transaction: a model that fails (an
        exception, a bad DataFrame, a contract refused) rolls everything back and leaves
        the previous relation as it was. Unlike dbt's table materialization the old
        relation is dropped before the commit, not after, so no backup relation can be
        left behind for the next run to trip on. -#}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_type) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- do run_query(fraud_python_lock_sql(target_relation)) -%}
    {#- under the lock, nothing of a concurrent run of this model is left half done -#}
    {%- do run_query('drop table if exists ' ~ intermediate_relation ~ ' cascade') -%}
    {%- set existing_relation = load_cached_relation(this) -%}

    {% call statement('main') -%}
        {{ fraud_python_run_sql(intermediate_relation, is_incremental=false) }}
    {%- endcall %}

    {%- do create_indexes(intermediate_relation) -%}
    {%- if existing_relation is not none -%}
        {%- do adapter.rename_relation(existing_relation, backup_relation) -%}
    {%- endif -%}
    {%- do adapter.rename_relation(intermediate_relation, target_relation) -%}
    {%- if existing_relation is not none -%}
        {%- do adapter.drop_relation(backup_relation) -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- set revoke = should_revoke(existing_relation, full_refresh_mode=True) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke=revoke) -%}
    {%- do persist_docs(target_relation, model) -%}
    -- `COMMIT` happens here
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}
