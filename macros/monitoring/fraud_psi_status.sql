{#- The alarm level of a PSI, one definition for score and feature drift. The same on every
    platform. -#}

{% macro fraud_psi_status(psi) -%}
    {#- SQL: 'error' at or above var fraud_psi_error, 'warn' at or above var fraud_psi_warn,
        else 'stable' (a NULL PSI too: the caller names why it has none first). -#}
    {%- set levels = fraud_psi_levels() -%}
    case
        when {{ psi }} >= {{ levels.error }} then 'error'
        when {{ psi }} >= {{ levels.warn }} then 'warn'
        else 'stable'
    end
{%- endmacro %}
