{#- Which models score in this run (the registry's deployments, or a var naming one), each with
    its threshold; the checks a model must pass before it scores. The same on every platform.
    -#}

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
        {%- set threshold = fraud_threshold(own, row[0]) if row[3] == 'champion' else own -%}
        {%- do models.append({
            'version': row[0], 'role': row[3], 'threshold': threshold,
            'reason_threshold': [threshold, model_threshold, own] | min, 'ref': row[0],
        }) -%}
    {%- endfor -%}
    {{ return(models) }}
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
    {%- set threshold = fraud_threshold(own, info[0]) -%}
    {{ return({'version': info[0], 'role': 'champion', 'threshold': threshold,
               'reason_threshold': [threshold, own] | min, 'ref': 'file:' ~ path}) }}
{%- endmacro %}
