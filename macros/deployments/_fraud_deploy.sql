{#- Private to the deployment operations: one version's deployment row, its history, and the
    audit of its threshold and bands. The same on every platform. -#}

{% macro _fraud_deploy(schema, v, role, t, operation, reason, block='null') -%}
    {#- Statements for one transaction (the caller commits): the audit row first, since it
        reads the values being replaced; only when the threshold or the bands change (or the
        version was not deployed). t and block are SQL (a number or null); reason a literal. -#}
    insert into {{ schema }}.threshold_audit (
        model_version, role, operation, was_deployed,
        old_threshold, new_threshold, old_block_threshold, new_block_threshold, reason
    )
    select
        {{ v }}, '{{ role }}', '{{ operation }}', deployed.model_version is not null,
        deployed.threshold, {{ t }}::float8, deployed.block_threshold, {{ block }}::float8, {{ reason }}
    from (select 1 as here) as here
    left join {{ schema }}.deployments as deployed on deployed.model_version = {{ v }}
    where
        deployed.model_version is null
        or deployed.threshold is distinct from {{ t }}::float8
        or deployed.block_threshold is distinct from {{ block }}::float8;
    {#- delete + insert, not ON CONFLICT: Greenplum 6 has no upsert -#}
    delete from {{ schema }}.deployments where model_version = {{ v }};
    insert into {{ schema }}.deployments (model_version, role, threshold, block_threshold)
    values ({{ v }}, '{{ role }}', {{ t }}, {{ block }});
    insert into {{ schema }}.deployment_history (model_version, role, threshold, block_threshold)
    values ({{ v }}, '{{ role }}', {{ t }}, {{ block }})
{%- endmacro %}

{% macro _fraud_reason_argument(reason, default) -%}
    {#- The reason argument as an SQL literal: required (no default) or defaulted, never empty. -#}
    {%- set text = (reason if reason is not none else (default or '')) | string | trim -%}
    {%- if not text -%}
        {{ exceptions.raise_compiler_error(
            "reason is required: say why, e.g. --args '{reason: \"quarterly cost review\"}'"
        ) }}
    {%- endif -%}
    {{ return(fraud_quote_literal(text)) }}
{%- endmacro %}
