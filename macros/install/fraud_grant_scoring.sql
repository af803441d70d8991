-- sqlfluff:exclude_rules:LT02
-- (the macro returns statements chosen per platform, which the indentation rule cannot place)
{#- The grants of the install: what the roles that score may execute and read. Its platform
    differences are in the macros it calls: fraud_install_platform_grants. -#}

{% macro fraud_grant_scoring(schema, roles) -%}
    {#- plpython3u is untrusted: its functions run with the server's OS rights. A scoring
        role gets the entry point (score_stack), which reads the model from the registry
        (or the allowed directory) itself, and the harmless helpers; the functions that
        take model bytes are created afresh by every install (fraud_scoring_ddl drops
        them first), so no earlier grant survives, and EXECUTE is revoked from PUBLIC. -#}
    {%- for function in fraud_scoring_functions(schema) + fraud_owner_functions(schema) %}
    revoke all on function {{ function }} from public;
    {%- endfor %}
    {%- for role in roles %}
    grant usage on schema {{ schema }} to {{ role }};
    grant select on {{ schema }}.models, {{ schema }}.installation, {{ schema }}.deployments,
        {{ schema }}.deployment_history, {{ schema }}.threshold_audit, {{ schema }}.python_models to {{ role }};
    {{ fraud_install_platform_grants(schema, role) }}
        {%- for function in fraud_scoring_functions(schema) %}
    grant execute on function {{ function }} to {{ role }};
        {%- endfor %}
    {%- endfor %}
    select 1
{%- endmacro %}
