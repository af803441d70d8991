{#- The roles the install lets score (var fraud_scoring_roles), checked. The same on every
    platform. -#}

{% macro fraud_scoring_roles() -%}
    {#- var fraud_scoring_roles: the roles that may score (dbt run / dbt test as
        a non-superuser). Everyone else gets nothing: EXECUTE is revoked from PUBLIC. -#}
    {%- set raw = var('fraud_scoring_roles', []) -%}
    {%- set roles = [raw] if raw is string else raw -%}
    {%- set checked = [] -%}
    {%- for role in roles if role -%}
        {%- do checked.append(fraud_identifier(role, 'var fraud_scoring_roles')) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}
