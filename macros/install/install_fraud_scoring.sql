{#- dbt run-operation install_fraud_scoring (a superuser: plpython3u is untrusted): the scoring
    functions, the model registry and the grants. Its platform differences are in the macros it
    calls: fraud_grant_scoring, fraud_scoring_ddl, fraud_scoring_version. -#}

{% macro install_fraud_scoring() -%}
    {%- set schema = fraud_schema() -%}
    {%- set version = fraud_scoring_version() -%}
    {%- do run_query(fraud_scoring_ddl(schema)) -%}
    {#- The one directory model files may be read from (var fraud_model_dir); kept
        as it is unless the var is given, so an automatic upgrade does not reset it. -#}
    {%- set model_dir = var('fraud_model_dir', none) -%}
    {%- if model_dir is not none -%}
        {%- if model_dir != '' and not modules.re.fullmatch('/[A-Za-z0-9._/-]*', model_dir | string) -%}
            {{ exceptions.raise_compiler_error(
                "var fraud_model_dir must be an absolute path of letters, digits, '.', '_', '-' and '/', got "
                ~ (model_dir | string | tojson)
            ) }}
        {%- endif -%}
        {%- do run_query(_fraud_set_installation(schema, 'model_dir', model_dir)) -%}
    {%- endif -%}
    {%- do run_query(fraud_grant_scoring(schema, fraud_scoring_roles())) -%}
    {%- set package = fromjson(run_query('select ' ~ schema ~ '.scoring_package()').rows[0][0]) -%}
    {%- do run_query(_fraud_set_installation(schema, 'fraud_scoring', fraud_package_text(package))) -%}
    {%- do run_query(_fraud_set_installation(schema, 'score_stack', version)) -%}
    {#- the installer deploys the project's Python models too: their code, as reviewed, is
        what a least-privilege role may run (docs/python-models.md) -#}
    {%- do publish_python_models() -%}
    {{ log("installed fraud scoring " ~ version ~ " (package fraud_scoring " ~ fraud_package_text(package)
        ~ ") in schema " ~ schema, info=true) }}
{%- endmacro %}

{% macro _fraud_set_installation(schema, component, value) -%}
    {#- delete + insert, not ON CONFLICT: Greenplum 6 (PostgreSQL 9.4) has no upsert -#}
    delete from {{ schema }}.installation where component = {{ fraud_quote_literal(component) }};
    insert into {{ schema }}.installation (component, version)
    values ({{ fraud_quote_literal(component) }}, {{ fraud_quote_literal(value) }})
{%- endmacro %}
