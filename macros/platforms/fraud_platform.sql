{#- Which database platform this run is on, and the one way platform-specific SQL
    is chosen: fraud_dispatch(name) returns the macro <platform>__<name> from
    macros/platforms/<platform>.sql (README, "Platforms"). -#}

{% macro fraud_platform() -%}
    {#- 'postgres' or 'greenplum' (Greenplum 6/7, Apache Cloudberry): var
        fraud_platform forces it, otherwise version() decides, asked once per dbt
        invocation: the answer is kept in `graph`, the one dict every node of a run
        shares (a debug line, "fraud_platform: asked the server", says when it asks). -#}
    {%- do fraud_renamed_var('fraud_engine_dispatch', 'fraud_platform') -%}
    {%- set forced = var('fraud_platform', none) -%}
    {%- if forced is not none and forced != '' -%}
        {{ return(fraud_choice('fraud_platform', forced | string, ['postgres', 'greenplum'])) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('postgres') }}
    {%- endif -%}
    {%- if 'fraud_platform' not in graph -%}
        {%- set version = run_query('select version()').rows[0][0] | lower -%}
        {%- set platform = 'greenplum' if ('greenplum' in version or 'cloudberry' in version) else 'postgres' -%}
        {{ log('fraud_platform: asked the server (select version()): ' ~ platform) }}
        {%- do graph.update({'fraud_platform': platform}) -%}
    {%- endif -%}
    {{ return(graph['fraud_platform']) }}
{%- endmacro %}

{% macro fraud_dispatch(name) -%}
    {#- The implementation of `name` for this run's platform: the macro
        <platform>__<name>, else default__<name> (one for every platform). A thin
        public macro calls it once, `{{ fraud_dispatch('x')(args) }}`, so callers
        never test the platform. dbt's adapter.dispatch cannot do this: Greenplum
        and PostgreSQL both run on dbt-postgres. (Under sqlfluff, `context` is
        .sqlfluff_lib/context.py, which looks the macro up the same way.) -#}
    {%- set platform = fraud_platform() -%}
    {%- for candidate in [platform ~ '__' ~ name, 'default__' ~ name] -%}
        {%- set implementation = context.get(candidate) -%}
        {%- if implementation is not none -%}
            {{ return(implementation) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "no macro " ~ platform ~ "__" ~ name ~ " (nor default__" ~ name ~ "): write it in macros/platforms/" ~ platform ~ ".sql"
    ) }}
{%- endmacro %}
