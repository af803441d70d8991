{#- The schema of the scoring functions and the model registry (var fraud_schema), checked to be
    a plain identifier. The same on every platform. -#}

{% macro fraud_schema() -%}
    {{ return(fraud_identifier(var('fraud_schema', 'fraud'), 'var fraud_schema')) }}
{%- endmacro %}
