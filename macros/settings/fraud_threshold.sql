{#- The champion's threshold: var fraud_threshold when given, else the model's own. The same on
    every platform. -#}

{% macro fraud_threshold(model_threshold, version='the model') -%}
    {#- var fraud_threshold when given, else the model's own; either must be a finite
        number strictly between 0 and 1 (fraud_checked_threshold). -#}
    {%- set threshold = var('fraud_threshold', none) -%}
    {%- if threshold is none or threshold == '' -%}
        {{ return(fraud_checked_threshold(model_threshold, "the threshold in the metadata of " ~ version)) }}
    {%- endif -%}
    {{ return(fraud_checked_threshold(threshold, 'var fraud_threshold')) }}
{%- endmacro %}
