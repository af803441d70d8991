{#- The threads each scoring call uses (var fraud_scoring_threads), checked, or the platform's
    default. Per platform: <platform>__fraud_default_scoring_threads in
    macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_scoring_threads() -%}
    {#- Threads each scoring call uses (var fraud_scoring_threads, 1 to 256; 0 means
        every core of the host). Default on PostgreSQL: 0, one backend scores. On
        Greenplum / Cloudberry every primary segment of a host scores at once, so
        the default shares the host's cores among them: minus the number of
        primaries on the busiest host, which the scorer turns into
        max(1, cores // primaries) (scoring_threads; check_fraud_segments prints it). -#}
    {%- set raw = var('fraud_scoring_threads', none) -%}
    {%- if raw is none or raw == '' -%}
        {{ return(fraud_dispatch('fraud_default_scoring_threads')()) }}
    {%- endif -%}
    {%- set text = raw | string -%}
    {%- if not modules.re.fullmatch('[0-9]{1,3}', text) or text | int > 256 -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_scoring_threads must be a whole number from 0 (every core) to 256, got " ~ (text | tojson)
        ) }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}
