{#- The model that decides: the champion, or the one a var names. The same on every platform.
    -#}

{% macro fraud_selected_model() -%}
    {#- The model that decides (the champion, or the one var fraud_model_version /
        fraud_model_path names). -#}
    {{ return(fraud_scoring_models()[0]) }}
{%- endmacro %}
