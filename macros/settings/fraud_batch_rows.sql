{#- The most rows one stack holds (var fraud_batch_rows), checked. The same on every platform.
    -#}

{% macro fraud_batch_rows() -%}
    {#- One stack per (segment, batch) holds at most this many rows: about 120 bytes
        a row in the stack, plus 8,192-row chunks of activations while scoring. -#}
    {%- set raw = var('fraud_batch_rows', 100000) -%}
    {%- set text = raw | string -%}
    {%- if not modules.re.fullmatch('[0-9]+', text) -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_batch_rows must be a positive whole number, got " ~ (text | tojson)
        ) }}
    {%- endif -%}
    {%- set rows = text | int -%}
    {%- if rows < 1 or rows > 1000000 -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_batch_rows must be between 1 and 1,000,000"
            ~ " (a stack of 1,000,000 rows is ~120 MB in one backend), got " ~ rows
        ) }}
    {%- endif -%}
    {{ return(rows) }}
{%- endmacro %}
