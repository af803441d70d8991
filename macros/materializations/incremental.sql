{#- Incremental tables, for SQL and Python models. -#}

{% materialization incremental, adapter='postgres', supported_languages=['sql', 'python'] -%}
    {#- dbt-postgres's own incremental materialization takes SQL only. A SQL model is built
        by it, unchanged; a Python model runs inside the database through PL/Python
        (fraud_python_incremental, docs/python-models.md). -#}
    {%- if model.language == 'python' -%}
        {{ return(fraud_python_incremental()) }}
    {%- endif -%}
    {{ return(materialization_incremental_default()) }}
{%- endmaterialization %}
