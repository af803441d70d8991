{#- Run-operation (a superuser): publish the project's Python models' compiled code, the
    only code a least-privilege role may then run (docs/python-models.md). -#}

{% macro publish_python_models() -%}
    {#- dbt run-operation publish_python_models (a superuser): records the code of every
        Python model of the project in {schema}.python_models, the only code
        run_python_model runs. Publishing is the review step: a role that runs dbt but is
        not a superuser runs exactly this code, or its run stops naming this command. -#}
    {%- set schema = fraud_schema() -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.language == 'python' -%}
        {%- set sha = run_query('select ' ~ schema ~ '.publish_python_model(' ~ fraud_quote_literal(node.unique_id)
            ~ ', ' ~ fraud_quote_literal(node.original_file_path) ~ ', ' ~ fraud_quote_literal(node.raw_code)
            ~ ')').rows[0][0] -%}
        {{ log('published ' ~ node.original_file_path ~ ' sha256:' ~ sha[:12], info=true) }}
    {%- endfor -%}
{%- endmacro %}
