{% macro pack_features(columns) -%}
    {#- Pack the features once, as float4 big-endian bytes (float4send, a built-in
        C function), so scoring moves bytes, not per-element Python floats.
        A value that cannot become a float4 (NULL, NaN, Infinity, beyond float4's
        range, or so small it would round to zero) becomes NaN here, rather than
        failing the statement or vanishing from string_agg: the scorer leaves such
        rows out of fraud_scores, and fraud_quarantine lists them. The writing side
        of the stack encoding; the reading side is fraud_scoring/stack.py's
        unpack_stack (two languages meet at these bytes, both sized by the contract). -#}
    {%- set send = fraud_stack_contract()['feature_send'] -%}
    {%- for column in columns -%}
        {{ send }}(case when {{ fraud_float4_ok(column) }} then {{ column }}::float4 else 'NaN'::float4 end)
        {%- if not loop.last %} || {% endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro fraud_float4_ok(column) -%}
    {#- True when a float8 column's value converts to a finite float4 without error
        (NaN compares above every number in PostgreSQL, so it fails both bounds). -#}
    ({{ column }} = 0 or abs({{ column }}) between 1.401298464324817e-45 and 3.4028234663852886e38)
{%- endmacro %}

{% macro fraud_feature_columns() -%}
    {#- The model's inputs as SQL columns, in the model's input order (the stack contract). -#}
    {{ return(fraud_stack_contract()['columns']) }}
{%- endmacro %}
