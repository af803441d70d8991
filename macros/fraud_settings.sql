{#- Validated settings: every var that reaches SQL passes through here. -#}

{% macro fraud_schema() -%}
    {{ return(fraud_identifier(var('fraud_schema', 'fraud'), 'var fraud_schema')) }}
{%- endmacro %}

{% macro fraud_registry() -%}
    {{ return(fraud_schema() ~ '.models') }}
{%- endmacro %}

{% macro fraud_scoring_runtime() -%}
    {#- What runs the network inside the database: numpy (h5py + NumPy) or keras
        (TensorFlow in a child process). Not to be confused with fraud_platform(),
        the database: postgres or greenplum. -#}
    {%- do fraud_renamed_var('fraud_engine', 'fraud_scoring_runtime') -%}
    {%- set runtime = var('fraud_scoring_runtime', 'numpy') | string -%}
    {{ return(fraud_choice('fraud_scoring_runtime', runtime, ['numpy', 'keras'])) }}
{%- endmacro %}

{% macro fraud_choice(name, value, choices) -%}
    {#- `value` of var `name` when it is one of two `choices`; otherwise a compile error naming them. -#}
    {%- if value not in choices -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be '" ~ choices[0] ~ "' or '" ~ choices[1] ~ "', got " ~ (value | tojson)
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro fraud_renamed_var(old, new) -%}
    {#- A var this project renamed: fail naming the new one rather than silently
        ignoring a setting. -#}
    {%- if var(old, '') | string != '' -%}
        {{ exceptions.raise_compiler_error("var " ~ old ~ " is now called " ~ new ~ ": rename it") }}
    {%- endif -%}
{%- endmacro %}

{% macro fraud_batch_rows() -%}
    {#- One stack per (segment, batch) holds at most this many rows: about 120 bytes
        a row in the stack, plus 8,192-row chunks of activations while scoring. -#}
    {%- set raw = var('fraud_batch_rows', 100000) -%}
    {%- set text = raw | string -%}
    {%- if not modules.re.fullmatch('[0-9]+', text) -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_batch_rows must be a positive whole number, got " ~ (text | tojson)
        ) }}
    {%- endif -%}
    {%- set rows = text | int -%}
    {%- if rows < 1 or rows > 1000000 -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_batch_rows must be between 1 and 1,000,000"
            ~ " (a stack of 1,000,000 rows is ~120 MB in one backend), got " ~ rows
        ) }}
    {%- endif -%}
    {{ return(rows) }}
{%- endmacro %}

{% macro fraud_name_pattern(kind) -%}
    {#- The pattern a name must match in full (kind: model_version or identifier).
        Constants, not settings: validation that a var could replace is no validation
        (a var fraud_names once let fraud_schema carry SQL into on-run-start).
        warehouse/names.py states the same two for Python; a test checks they agree. -#}
    {#- (under sqlfluff, whose var() renders text, dbt_project is defined: .sqlfluff_lib) -#}
    {%- if var('fraud_names', none) is not none and dbt_project is not defined -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_names is not a setting: the name patterns are fixed (macros/fraud_settings.sql)"
        ) }}
    {%- endif -%}
    {{ return({
        'model_version': '[A-Za-z0-9._-]{1,128}',
        'identifier': '[a-z_][a-z0-9_]{0,62}',
    }[kind]) }}
{%- endmacro %}

{% macro fraud_identifier(name, what) -%}
    {%- if not modules.re.fullmatch(fraud_name_pattern('identifier'), name | string) -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a lowercase SQL identifier ([a-z_][a-z0-9_]*), got " ~ (name | string | tojson)
        ) }}
    {%- endif -%}
    {{ return(name | string) }}
{%- endmacro %}

{% macro fraud_quote_literal(value) -%}
    {#- A SQL string literal; standard_conforming_strings is on in every supported platform. -#}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}

{% macro fraud_scoring_models() -%}
    {#- The models that score, explicitly chosen, never by registration order:
        var fraud_model_path (a file in the directory a superuser allowed), else var
        fraud_model_version, each alone and taken as the champion for this run; else
        every version deployed in the registry ({schema}.deployments): the champion,
        then its challengers. Returns a list of {version, role, threshold,
        reason_threshold, ref}: ref is what the scoring function loads (the version,
        or 'file:<path>'); reason codes are computed for probabilities at or above
        reason_threshold (the lowest threshold known for the version). An unknown
        version, an empty deployment or a model whose features are in another order
        than SQL packs them is a compile error. -#}
    {%- set path = var('fraud_model_path', '') | string -%}
    {%- if path -%}
        {{ return([_fraud_model_file(path)]) }}
    {%- endif -%}
    {%- set wanted = var('fraud_model_version', '') | string -%}
    {%- if wanted and not modules.re.fullmatch(fraud_name_pattern('model_version'), wanted) -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_model_version may hold only letters, digits, '.', '_' and '-', got " ~ (wanted | tojson)
        ) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return([{'version': wanted or 'unresolved', 'role': 'champion', 'threshold': 0.5,
                    'reason_threshold': 0.5, 'ref': wanted or 'unresolved'}]) }}
    {%- endif -%}
    {%- set registry = fraud_registry() -%}
    {%- set sql -%}
        select
            m.model_version,
            coalesce((m.metadata ->> 'threshold')::float8, 0.5) as model_threshold,
            {% if wanted -%} null::float8 {%- else -%} d.threshold {%- endif %} as deployed_threshold,
            {% if wanted -%} 'champion' {%- else -%} d.role {%- endif %} as role,
            (m.metadata -> 'features')::text as features
        from {{ registry }} as m
        {% if wanted -%}
            where m.model_version = {{ fraud_quote_literal(wanted) }}
        {%- else -%}
            inner join {{ fraud_schema() }}.deployments as d on m.model_version = d.model_version
            order by d.role = 'champion' desc, m.model_version
        {%- endif %}
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- if rows | length == 0 -%}
        {%- if wanted -%}
            {{ exceptions.raise_compiler_error("model version " ~ (wanted | tojson) ~ " is not registered in " ~ registry ~ ": register it with `python -m warehouse register --model-dir DIR`") }}
        {%- else -%}
            {{ exceptions.raise_compiler_error("no model is deployed in " ~ fraud_schema() ~ ".deployments: name a champion with `dbt run-operation promote_fraud_model --args '{version: VERSION}'` (registered versions: `select model_version, registered_at from " ~ registry ~ "`), or score one version with var fraud_model_version") }}
        {%- endif -%}
    {%- endif -%}
    {%- set models = [] -%}
    {%- for row in rows -%}
        {%- do _fraud_check_feature_order(row[0], row[4]) -%}
        {%- set own = row[2] if row[2] is not none else row[1] -%}
        {%- set model_threshold = fraud_checked_threshold(row[1], "the threshold in the metadata of " ~ row[0]) -%}
        {%- set own = fraud_checked_threshold(row[2], "the deployed threshold of " ~ row[0])
            if row[2] is not none else model_threshold -%}
        {%- set threshold = _fraud_threshold(own, row[0]) if row[3] == 'champion' else own -%}
        {%- do models.append({
            'version': row[0], 'role': row[3], 'threshold': threshold,
            'reason_threshold': [threshold, model_threshold, own] | min, 'ref': row[0],
        }) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}

{% macro fraud_selected_model() -%}
    {#- The model that decides (the champion, or the one var fraud_model_version /
        fraud_model_path names). -#}
    {{ return(fraud_scoring_models()[0]) }}
{%- endmacro %}

{% macro _fraud_check_feature_order(version, features_json) -%}
    {#- The model's metadata must list its inputs in the order SQL packs them. -#}
    {%- set expected = fromjson(features_json) if features_json else none -%}
    {%- set sent = fraud_feature_columns() -%}
    {%- if expected is none or (expected | map('lower') | list) != sent -%}
        {{ exceptions.raise_compiler_error(
            "model " ~ version ~ " expects its features in the order "
            ~ ((expected or ['(none listed)']) | join(', ')) ~ "; SQL sends " ~ (sent | join(', '))
            ~ ": it would score the wrong columns. Retrain it on the columns in SQL's order"
        ) }}
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_threshold(model_threshold, version='the model') -%}
    {#- var fraud_threshold when given, else the model's own; either must be a finite
        number strictly between 0 and 1 (fraud_checked_threshold). -#}
    {%- set threshold = var('fraud_threshold', none) -%}
    {%- if threshold is none or threshold == '' -%}
        {{ return(fraud_checked_threshold(model_threshold, "the threshold in the metadata of " ~ version)) }}
    {%- endif -%}
    {{ return(fraud_checked_threshold(threshold, 'var fraud_threshold')) }}
{%- endmacro %}

{% macro fraud_checked_threshold(value, what) -%}
    {#- A threshold as a float: a decimal number strictly between 0 and 1 (0.5, .05), checked
        as text first, so that NaN, Infinity, 1e-3, 0 and 1 never reach SQL. The one check
        of every threshold the macros take: var fraud_threshold, the deployment operations'
        arguments, a registered model's own (registration checks it too:
        fraud_scoring.model_audit.checked_threshold). -#}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('0?\.[0-9]{1,17}', text) or (text | float) <= 0 or (text | float) >= 1 -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a number strictly between 0 and 1, got " ~ (value | string | tojson)
        ) }}
    {%- endif -%}
    {{ return(text | float) }}
{%- endmacro %}

{% macro _fraud_model_file(path) -%}
    {#- A model read from a file on the database server, inside the directory a
        superuser allowed (var fraud_model_dir at install); the server checks that. -#}
    {%- if var('fraud_model_version', '') -%}
        {{ exceptions.raise_compiler_error("set var fraud_model_path or var fraud_model_version, not both") }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9._/-]{1,1024}', path) -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_model_path may hold only letters, digits, '.', '_', '-' and '/', got " ~ (path | tojson)
        ) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return({'version': 'unresolved', 'role': 'champion', 'threshold': 0.5, 'reason_threshold': 0.5,
                   'ref': 'file:' ~ path}) }}
    {%- endif -%}
    {%- set info = run_query(
        "select model_version, threshold from " ~ fraud_schema() ~ ".model_file_info(" ~ fraud_quote_literal(path) ~ ")"
    ).rows[0] -%}
    {%- set own = fraud_checked_threshold(info[1], "the threshold in the metadata of " ~ info[0]) -%}
    {%- set threshold = _fraud_threshold(own, info[0]) -%}
    {{ return({'version': info[0], 'role': 'champion', 'threshold': threshold,
               'reason_threshold': [threshold, own] | min, 'ref': 'file:' ~ path}) }}
{%- endmacro %}

{% macro fraud_quarantine_severity() -%}
    {#- How dbt test reports quarantined transactions (var fraud_quarantine_severity). -#}
    {%- set severity = var('fraud_quarantine_severity', 'warn') | string | lower -%}
    {{ return(fraud_choice('fraud_quarantine_severity', severity, ['warn', 'error'])) }}
{%- endmacro %}

{% macro fraud_scoring_threads() -%}
    {#- Threads each scoring call uses (var fraud_scoring_threads, 1 to 256; 0 means
        every core of the host). Default on PostgreSQL: 0, one backend scores. On
        Greenplum / Cloudberry every primary segment of a host scores at once, so
        the default shares the host's cores among them: minus the number of
        primaries on the busiest host, which the scorer turns into
        max(1, cores // primaries) (scoring_threads; check_fraud_segments prints it). -#}
    {%- set raw = var('fraud_scoring_threads', none) -%}
    {%- if raw is none or raw == '' -%}
        {{ return(fraud_dispatch('fraud_default_scoring_threads')()) }}
    {%- endif -%}
    {%- set text = raw | string -%}
    {%- if not modules.re.fullmatch('[0-9]{1,3}', text) or text | int > 256 -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_scoring_threads must be a whole number from 0 (every core) to 256, got " ~ (text | tojson)
        ) }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}

{% macro fraud_quarantined_bits() -%}
    {#- The probability bits of a transaction whose features cannot be scored (the stack contract). -#}
    {{ return(fraud_stack_contract()['quarantined_bits']) }}
{%- endmacro %}

{% macro fraud_float4_bits(value) -%}
    {#- The bit pattern of a number as a float4 (rounded to nearest, as the scorer does), an integer. -#}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set sql = "select ('x' || encode(float4send(" ~ (value | float) ~ "::float4), 'hex'))::bit(32)::integer" -%}
    {{ return(run_query(sql).rows[0][0]) }}
{%- endmacro %}
