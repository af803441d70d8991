{#- Whether a feature value can be packed as a finite float4 (else the row is quarantined). The
    same on every platform. -#}

{% macro fraud_float4_ok(column) -%}
    {#- True when a float8 column's value converts to a finite float4 without error
        (NaN compares above every number in PostgreSQL, so it fails both bounds). -#}
    ({{ column }} = 0 or abs({{ column }}) between 1.401298464324817e-45 and 3.4028234663852886e38)
{%- endmacro %}
