{#- Private to the deployment operations: one version's deployment row, and its history. The
    same on every platform. -#}

{% macro _fraud_deploy(schema, v, role, t) -%}
    {#- delete + insert, not ON CONFLICT: Greenplum 6 has no upsert -#}
    delete from {{ schema }}.deployments where model_version = {{ v }};
    insert into {{ schema }}.deployments (model_version, role, threshold) values ({{ v }}, '{{ role }}', {{ t }});
    insert into {{ schema }}.deployment_history (model_version, role, threshold) values ({{ v }}, '{{ role }}', {{ t }})
{%- endmacro %}
