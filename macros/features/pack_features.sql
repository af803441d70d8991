{#- A row's features packed as float4 bytes (stg_raw__credit_card): the writing side of the
    stack encoding that fraud_scoring/stack.py reads. The same on every platform. -#}

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
