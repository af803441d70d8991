{#- Champion and challengers: which registered versions score, and which one decides.
    Run by the registry's owner (a superuser by default); each changes
    {schema}.deployments and appends to {schema}.deployment_history, in one
    transaction. Decisions (fraud_decisions) follow at once: nothing is rescored. -#}

{% macro promote_fraud_model(version, threshold=none) -%}
    {#- `version` becomes the champion (and keeps its threshold unless one is given);
        the former champion stays on as a challenger, still scored, so rolling back
        needs no rescoring. -#}
    {%- set schema = fraud_schema() -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set t = _fraud_threshold_argument(threshold) -%}
    {%- do _fraud_require_scores(version, v) -%}
    {%- set sql -%}
        insert into {{ schema }}.deployment_history (model_version, role, threshold)
        select model_version, 'challenger', threshold
        from {{ schema }}.deployments
        where role = 'champion' and model_version != {{ v }};
        -- now(), not clock_timestamp(): Greenplum cannot plan an UPDATE of a replicated
        -- table with a volatile value (each segment's copy would differ)
        update {{ schema }}.deployments
        set role = 'challenger', changed_at = now(), changed_by = current_user
        where role = 'champion' and model_version != {{ v }};
        {{ _fraud_deploy(schema, v, 'champion', t) }}
    {%- endset -%}
    {%- do run_query(sql) -%}
    {%- do run_query('commit') -%}
    {{ log("champion: " ~ version, info=true) }}
{%- endmacro %}

{% macro add_fraud_challenger(version, threshold=none) -%}
    {#- Score `version` beside the champion (in shadow: it decides nothing). -#}
    {%- set schema = fraud_schema() -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set champion = run_query(
        "select 1 from " ~ schema ~ ".deployments where role = 'champion' and model_version = " ~ v
    ).rows -%}
    {%- if champion -%}
        {{ exceptions.raise_compiler_error(version ~ " is the champion: promote another version first") }}
    {%- endif -%}
    {%- do run_query(_fraud_deploy(schema, v, 'challenger', _fraud_threshold_argument(threshold))) -%}
    {%- do run_query('commit') -%}
    {{ log("challenger: " ~ version ~ " (scored from the next dbt run)", info=true) }}
{%- endmacro %}

{% macro retire_fraud_model(version) -%}
    {#- Stop scoring a challenger (its scores stay until a full refresh of fraud_scores). -#}
    {%- set schema = fraud_schema() -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set rows = run_query("select role from " ~ schema ~ ".deployments where model_version = " ~ v).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(version ~ " is not deployed") }}
    {%- elif rows[0][0] == 'champion' -%}
        {{ exceptions.raise_compiler_error(version ~ " is the champion: promote another version first") }}
    {%- endif -%}
    {%- set sql -%}
        delete from {{ schema }}.deployments where model_version = {{ v }};
        insert into {{ schema }}.deployment_history (model_version, role) values ({{ v }}, 'retired')
    {%- endset -%}
    {%- do run_query(sql) -%}
    {%- do run_query('commit') -%}
    {{ log("retired: " ~ version, info=true) }}
{%- endmacro %}

{% macro rollback_fraud_model() -%}
    {#- The champion before the current one becomes champion again. -#}
    {%- set schema = fraud_schema() -%}
    {%- set sql -%}
        select history.model_version
        from {{ schema }}.deployment_history as history
        where
            history.role = 'champion'
            and history.model_version is distinct from (
                select deployments.model_version from {{ schema }}.deployments as deployments
                where deployments.role = 'champion'
            )
        order by history.changed_at desc
        limit 1
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error("no earlier champion in " ~ schema ~ ".deployment_history to roll back to") }}
    {%- endif -%}
    {%- do promote_fraud_model(rows[0][0]) -%}
{%- endmacro %}

{% macro set_fraud_threshold(threshold, version=none) -%}
    {#- The threshold of the champion (or of `version`): decisions change at once. -#}
    {%- set schema = fraud_schema() -%}
    {%- set t = _fraud_threshold_argument(threshold) -%}
    {%- if version is none -%}
        {%- set rows = run_query(
            "select model_version from " ~ schema ~ ".deployments where role = 'champion'"
        ).rows -%}
        {%- if not rows -%}
            {{ exceptions.raise_compiler_error("no champion: promote a version first") }}
        {%- endif -%}
        {%- set version = rows[0][0] -%}
    {%- endif -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set rows = run_query("select role from " ~ schema ~ ".deployments where model_version = " ~ v).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(version ~ " is not deployed") }}
    {%- endif -%}
    {%- do run_query(_fraud_deploy(schema, v, rows[0][0], t)) -%}
    {%- do run_query('commit') -%}
    {{ log("threshold of " ~ version ~ ": " ~ (threshold if t != 'null' else "the model's own"), info=true) }}
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

{% macro _fraud_deploy(schema, v, role, t) -%}
    {#- delete + insert, not ON CONFLICT: Greenplum 6 has no upsert -#}
    delete from {{ schema }}.deployments where model_version = {{ v }};
    insert into {{ schema }}.deployments (model_version, role, threshold) values ({{ v }}, '{{ role }}', {{ t }});
    insert into {{ schema }}.deployment_history (model_version, role, threshold) values ({{ v }}, '{{ role }}', {{ t }})
{%- endmacro %}

{% macro _fraud_registered_version(version) -%}
    {#- The version as a SQL literal, once it is known to be registered. -#}
    {%- if version is none or not modules.re.fullmatch(fraud_name_pattern('model_version'), version | string) -%}
        {{ exceptions.raise_compiler_error(
            "version must hold only letters, digits, '.', '_' and '-', got " ~ (version | string | tojson)
        ) }}
    {%- endif -%}
    {%- set v = fraud_quote_literal(version) -%}
    {%- if not run_query("select 1 from " ~ fraud_registry() ~ " where model_version = " ~ v).rows -%}
        {{ exceptions.raise_compiler_error(
            "model version " ~ (version | tojson) ~ " is not registered in " ~ fraud_registry()
            ~ ": register it with `python -m warehouse register --model-dir DIR`"
        ) }}
    {%- endif -%}
    {{ return(v) }}
{%- endmacro %}

{% macro _fraud_threshold_argument(threshold) -%}
    {#- A threshold argument as SQL: a number strictly between 0 and 1, or null (the model's own). -#}
    {%- if threshold is none or threshold == '' -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return(fraud_checked_threshold(threshold, 'threshold') | string) }}
{%- endmacro %}
