{#- The transactions' calendar: var fraud_time_origin, the time of Kaggle's Time = 0. The same on
    every platform. -#}

{% macro fraud_time_origin() -%}
    {#- var fraud_time_origin as a timestamptz SQL expression; the var must look like an ISO 8601
        time with a zone ('2013-09-01 00:00:00+00'), so nothing else reaches SQL. -#}
    {%- set origin = var('fraud_time_origin', '2013-09-01 00:00:00+00') | string -%}
    {%- set pattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}'
        ~ '(:[0-9]{2}(\\.[0-9]+)?)?([+-][0-9]{2}(:?[0-9]{2})?|Z)$' -%}
    {%- if not modules.re.match(pattern, origin) -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_time_origin must be an ISO 8601 time with a time zone, such as "
            ~ "'2013-09-01 00:00:00+00'; got " ~ origin) }}
    {%- endif -%}
    {{ return(fraud_quote_literal(origin) ~ '::timestamptz') }}
{%- endmacro %}
