{#- Tables, for SQL and Python models. -#}

{% materialization table, adapter='postgres', supported_languages=['sql', 'python'] -%}
    {#- dbt-postgres's own table materialization takes SQL only. A SQL model is built by it,
        unchanged; a Python model runs inside the database through PL/Python
        (fraud_python_table, docs/python-models.md). -#}
    {%- if model.language == 'python' -%}
        {{ return(fraud_python_table()) }}
    {%- endif -%}
    {{ return(materialization_table_default()) }}
{%- endmaterialization %}
