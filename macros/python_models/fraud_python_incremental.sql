{#- A Python model (.py) built incrementally inside the database: what the incremental
    materialization (macros/materializations/incremental.sql) calls for Python models. The
    same on PostgreSQL and Greenplum / Cloudberry. -#}

{% macro fraud_python_incremental() -%}
    {#- A Python model as an incremental table. The first run, --full-refresh, or a view in
        the way: built whole, as fraud_python_table does (dbt.is_incremental is False).
        Otherwise model() runs with dbt.is_incremental True and dbt.this the existing
        table, its DataFrame goes into a temporary table, and dbt's own incremental
        strategy (append; delete+insert or merge on unique_key; on_schema_change) moves
        it into the target, in one transaction with the run: a failure changes nothing. -#}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is none or existing_relation.is_view or should_full_refresh() -%}
        {{ return(fraud_python_table()) }}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set temp_relation = make_temp_relation(target_relation) -%}
    {%- set unique_key = config.get('unique_key') -%}
    {%- set on_schema_change = incremental_validate_on_schema_change(
        config.get('on_schema_change'), default='ignore'
    ) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- do run_query(fraud_python_lock_sql(target_relation)) -%}
    {%- set unchanged = fraud_python_inputs_unchanged(target_relation, existing_relation) -%}
    {% call statement('main') -%}
        {%- if unchanged.skip -%}
            select 'unchanged: inputs, definition and rows as when built' as fraud_python_skipped
        {%- else -%}
            {{ fraud_python_run_sql(temp_relation, is_incremental=true) }}
        {%- endif -%}
    {%- endcall %}

    {%- if not unchanged.skip -%}
        {%- if not ((config.get('meta') or {}).get('python_contract') or {}).get('enforced', false) -%}
            {%- do adapter.expand_target_column_types(from_relation=temp_relation, to_relation=target_relation) -%}
        {%- endif -%}
        {%- set dest_columns = process_schema_changes(on_schema_change, temp_relation, existing_relation) -%}
        {%- if not dest_columns -%}
            {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) -%}
        {%- endif -%}
        {%- set strategy = config.get('incremental_strategy') or 'default' -%}
        {%- set strategy_sql = adapter.get_incremental_strategy_macro(context, strategy) -%}
        {%- do run_query(strategy_sql({
            'target_relation': target_relation, 'temp_relation': temp_relation, 'unique_key': unique_key,
            'dest_columns': dest_columns,
            'incremental_predicates': config.get('predicates', none) or config.get('incremental_predicates', none),
        })) -%}
        {%- do run_query('drop table if exists ' ~ temp_relation) -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- set revoke = should_revoke(existing_relation, full_refresh_mode=False) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke=revoke) -%}
    {%- if not unchanged.skip -%}
        {%- do persist_docs(target_relation, model) -%}
        {%- do fraud_python_mark_inputs(target_relation, unchanged.inputs) -%}
    {%- endif -%}
    -- `COMMIT` happens here
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}
