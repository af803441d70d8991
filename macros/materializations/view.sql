{#- Views replaced in place, so a failed run never removes what analysts read. The
    materialization and the one macro it calls (fraud_replace_view_sql) share this file, the
    one exception to one public macro per file besides the two platform files
    (tests/python/test_structure.py). -#}

{% materialization view, adapter='postgres' -%}
    {#- dbt's view materialization builds a new view, renames the old one away and drops
        it with CASCADE: every view built on it (fraud_decisions on fraud_deployments,
        fraud_case_queue on stg_raw__credit_card) is dropped too, and comes back only when
        the run reaches it; a run that fails in between (a scoring error) leaves the
        decision layer gone. Here an existing view is replaced in place by CREATE OR
        REPLACE VIEW, which keeps the views built on it; only when the database refuses
        (a column removed, renamed or retyped: SQLSTATE 42P16) is it dropped and created
        as dbt would. A relation that is not a view yet takes dbt's own path. -#}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is none or not existing_relation.is_view -%}
        {{ return(materialization_view_default()) }}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('main') -%}
        {{ fraud_replace_view_sql(target_relation, sql) }}
    {%- endcall %}

    {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=False) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke) -%}
    {%- do persist_docs(target_relation, model) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}

{% macro fraud_replace_view_sql(relation, sql) -%}
    {#- A DO block: CREATE OR REPLACE VIEW (dbt's CREATE VIEW, with the contract's checks),
        falling back to DROP ... CASCADE and CREATE VIEW when the columns changed. -#}
    {%- set create = get_create_view_as_sql(relation, sql) | trim -%}
    {%- set create = create[:-1] if create.endswith(';') else create -%}
    {%- set tag = '$fraud_view_sql$' -%}
    {%- if tag in create -%}
        {{ exceptions.raise_compiler_error("the view's SQL contains " ~ tag ~ ", which quotes it here") }}
    {%- endif -%}
    {%- set replace = modules.re.sub('^create view', 'create or replace view', create, count=1,
        flags=modules.re.IGNORECASE) -%}
    {%- if replace == create -%}
        {{ exceptions.raise_compiler_error(
            "cannot replace view " ~ relation ~ ": its DDL does not start with CREATE VIEW"
        ) }}
    {%- endif -%}
    do $fraud_view$
    begin
        execute {{ tag }}{{ replace }}{{ tag }};
    exception when invalid_table_definition then
        -- the columns changed: drop the view, and what is built on it, as dbt does
        execute {{ tag }}drop view {{ relation }} cascade{{ tag }};
        execute {{ tag }}{{ create }}{{ tag }};
    end
    $fraud_view$
{%- endmacro %}
