{#- Private to the deployment operations: a threshold argument as SQL. The same on every
    platform. -#}

{% macro _fraud_threshold_argument(threshold) -%}
    {#- A threshold argument as SQL: a number strictly between 0 and 1, or null (the model's own). -#}
    {%- if threshold is none or threshold == '' -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return(fraud_checked_threshold(threshold, 'threshold') | string) }}
{%- endmacro %}
