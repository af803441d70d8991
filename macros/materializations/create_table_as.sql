{#- How dbt builds a table from a query here: dbt-postgres's create_table_as, with three configs
    that make fraud_scores faster to build (fraud_distributed_by, fraud_constraints_after_load,
    fraud_append_through_view).
    Named postgres__ for dbt's own adapter.dispatch, which picks it on PostgreSQL and Greenplum
    alike (both run on dbt-postgres); the platforms differ in fraud_table_distribution:
    <platform>__fraud_table_distribution in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {#- dbt-postgres's own, except for two configs:
        fraud_distributed_by (Greenplum / Cloudberry): the table, temporary ones of
        incremental runs included, is created with that distribution, so the rows
        the query leaves on their segments are written there, not moved again
        (nor rewritten by an ALTER afterwards).
        fraud_constraints_after_load (PostgreSQL): the contract is checked as dbt
        does, then the table is built with CREATE TABLE AS and the contract's
        constraints added after. dbt's way (create the table with its primary key,
        then INSERT ... SELECT) maintains the key row by row: at 8M rows `dbt run`
        took 31.1 s against 17.7 s for the same query as CREATE TABLE AS. Building
        the key once, after, costs a sort. On Greenplum both apply (the key must
        contain the distribution column).
        fraud_append_through_view (a list of platforms): there, an incremental run's
        temporary relation is a view (_fraud_temporary_view), not a table the rows are
        written to first. -#}
    {%- if temporary and fraud_platform() in _fraud_platform_list(config.get('fraud_append_through_view', [])) -%}
        {{ return(_fraud_temporary_view(relation, sql)) }}
    {%- endif -%}
    {%- set distributed_by = fraud_dispatch('fraud_table_distribution')(config.get('fraud_distributed_by')) -%}
    {%- set contract = config.get('contract') -%}
    {%- set enforced = contract.enforced and not temporary -%}
    {%- set after_load = enforced and config.get('fraud_constraints_after_load', false) -%}
    {%- if (enforced and not after_load) or (not after_load and not distributed_by) -%}
        {{ return(dbt.postgres__create_table_as(temporary, relation, sql)) }}
    {%- endif -%}
    {%- if enforced -%}
        {{ get_assert_columns_equivalent(sql) }}
    {%- endif %}
    create {% if temporary %}temporary {% endif %}table {{ relation }} as (
        {{ sql }}
    ){% if distributed_by %} distributed by ({{ fraud_identifier(distributed_by, 'config fraud_distributed_by') }}){% endif %};
    {% if after_load -%}
        {{ _fraud_add_contract_constraints(relation) }}
    {%- endif %}
{%- endmacro %}

{% macro _fraud_platform_list(configured) -%}
    {#- config fraud_append_through_view: the platforms where the model's incremental runs
        append through a view, each 'postgres' or 'greenplum'. -#}
    {%- set platforms = [configured] if configured is string else configured -%}
    {%- for platform in platforms -%}
        {%- do fraud_choice('fraud_append_through_view', platform | string, ['postgres', 'greenplum']) -%}
    {%- endfor -%}
    {{ return(platforms) }}
{%- endmacro %}

{% macro _fraud_temporary_view(relation, sql) -%}
    {#- What an incremental run of a model appends on the platforms its config
        fraud_append_through_view lists: a temporary view in place of dbt's temporary table,
        so that dbt's own INSERT ... SELECT from it runs the query once and writes each row
        once, into the model's table. dbt compares the view's columns with the table's
        (on_schema_change) as it would the temporary table's. Where to: on Greenplum an
        INSERT ... SELECT runs on every segment, as a CREATE TABLE AS does, so a temporary
        table only writes each new row a second time (and is created on every segment, even
        when nothing is new); on PostgreSQL an INSERT ... SELECT runs no parallel workers, a
        CREATE TABLE AS can, which is worth the second write where the query's time is in
        per-row work workers share (fraud_scores' scoring calls), not where it is in
        writing wide rows (the stacks: 200,000 new rows on 2,000,000 were written twice, 24
        MB, in 0.8 s of a 2.6 s stacking). -#}
    create temporary view {{ relation }} as (
        {{ sql }}
    );
{%- endmacro %}

{% macro _fraud_add_contract_constraints(relation) -%}
    {#- The model's not_null and primary_key constraints (column and model level) as one
        ALTER TABLE; any other kind is refused rather than silently dropped. -#}
    {%- set clauses, keys = [], [] -%}
    {%- for name, column in model['columns'].items() -%}
        {%- for constraint in column.get('constraints', []) -%}
            {%- if constraint['type'] == 'not_null' -%}
                {%- do clauses.append('alter column ' ~ adapter.quote(name) ~ ' set not null') -%}
            {%- elif constraint['type'] == 'primary_key' -%}
                {%- do keys.append([adapter.quote(name)]) -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error(
                    "fraud_constraints_after_load supports not_null and primary_key constraints, not "
                    ~ constraint['type'] ~ " on " ~ name
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for constraint in model.get('constraints', []) -%}
        {%- if constraint['type'] == 'primary_key' -%}
            {%- do keys.append(constraint['columns'] | map('string') | list) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "fraud_constraints_after_load supports primary_key model constraints, not " ~ constraint['type']
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for key in keys -%}
        {%- do clauses.append('add primary key (' ~ (key | join(', ')) ~ ')') -%}
    {%- endfor -%}
    {%- if clauses -%}
        alter table {{ relation }} {{ clauses | join(', ') }};
    {%- endif -%}
{%- endmacro %}
