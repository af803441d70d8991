{#- The one way platform-specific SQL is chosen: fraud_dispatch(name) returns the macro
    <platform>__<name> from macros/platforms/<platform>.sql. -#}

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
