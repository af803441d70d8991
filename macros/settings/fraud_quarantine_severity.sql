{#- How dbt test reports quarantined transactions (var fraud_quarantine_severity). The same on
    every platform. -#}

{% macro fraud_quarantine_severity() -%}
    {#- How dbt test reports quarantined transactions (var fraud_quarantine_severity). -#}
    {%- set severity = var('fraud_quarantine_severity', 'warn') | string | lower -%}
    {{ return(fraud_choice('fraud_quarantine_severity', severity, ['warn', 'error'])) }}
{%- endmacro %}
