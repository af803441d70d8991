{#- The model's input columns, in the model's input order (the stack contract). The same on
    every platform. -#}

{% macro fraud_feature_columns() -%}
    {#- The model's inputs as SQL columns, in the model's input order (the stack contract). -#}
    {{ return(fraud_stack_contract()['columns']) }}
{%- endmacro %}
