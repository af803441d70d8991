{#- dbt run-operation promote_fraud_model --args '{version: V}': V becomes the champion. Run by
    the registry's owner (a superuser by default): it changes {schema}.deployments and appends
    to {schema}.deployment_history in one transaction; decisions follow at once, nothing is
    rescored. The same on every platform. -#}

{% macro promote_fraud_model(version, threshold=none, reason=none) -%}
    {#- `version` becomes the champion, at `threshold` (else the model's own) with no block
        band (threshold_audit records the change of bands); the former champion stays on as
        a challenger, still scored, with its bands, so rolling back needs no rescoring. -#}
    {%- do _fraud_promote(version, threshold, reason, 'promote_fraud_model') -%}
{%- endmacro %}

{% macro _fraud_promote(version, threshold, reason, operation) -%}
    {#- promote_fraud_model's work, shared with rollback_fraud_model (its own operation and
        default reason in the audit). -#}
    {%- set schema = fraud_schema() -%}
    {%- set why = _fraud_reason_argument(reason, operation) -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set t = _fraud_threshold_argument(threshold) -%}
    {%- do _fraud_require_scores(version, v) -%}
    {%- set sql -%}
        insert into {{ schema }}.deployment_history (model_version, role, threshold, block_threshold)
        select model_version, 'challenger', threshold, block_threshold
        from {{ schema }}.deployments
        where role = 'champion' and model_version != {{ v }};
        -- now(), not clock_timestamp(): Greenplum cannot plan an UPDATE of a replicated
        -- table with a volatile value (each segment's copy would differ)
        update {{ schema }}.deployments
        set role = 'challenger', changed_at = now(), changed_by = current_user
        where role = 'champion' and model_version != {{ v }};
        {{ _fraud_deploy(schema, v, 'champion', t, operation, why) }}
    {%- endset -%}
    {%- do run_query(sql) -%}
    {%- do run_query('commit') -%}
    {{ log("champion: " ~ version, info=true) }}
{%- endmacro %}

{% macro _fraud_require_scores(version, v) -%}
    {#- A version decides only once it has scored every scorable transaction: promoting one
        that has not would leave fraud_decisions without those transactions until the next
        run. Nothing to check before the first dbt run (no scores, no decisions yet). -#}
    {%- set scores = ref('fraud_scores') -%}
    {%- set staged = ref('stg_raw__credit_card') -%}
    {%- set exists = run_query(
        "select to_regclass(" ~ fraud_quote_literal(scores) ~ ") is not null and to_regclass("
        ~ fraud_quote_literal(staged) ~ ") is not null"
    ).rows[0][0] -%}
    {%- if not exists -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set sql -%}
        select count(*) filter (where scored.transaction_id is null), count(*)
        from {{ staged }} as staged
        left join {{ scores }} as scored
            on staged.transaction_id = scored.transaction_id and scored.model_version = {{ v }}
        where staged.has_scorable_features
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {%- if row[0] > 0 -%}
        {{ exceptions.raise_compiler_error(
            "model version " ~ version ~ " has no scores for " ~ row[0] ~ " of the " ~ row[1]
            ~ " scorable transactions in " ~ scores ~ ": as champion it would leave their decisions empty. "
            ~ "Score it first: `dbt run-operation add_fraud_challenger --args '{version: " ~ version
            ~ "}'`, `dbt run`, then promote it"
        ) }}
    {%- endif -%}
{%- endmacro %}
