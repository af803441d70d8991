{#- The probability bits the scorer returns for a row it cannot score (the stack contract). The
    same on every platform. -#}

{% macro fraud_quarantined_bits() -%}
    {#- The probability bits of a transaction whose features cannot be scored (the stack contract). -#}
    {{ return(fraud_stack_contract()['quarantined_bits']) }}
{%- endmacro %}
