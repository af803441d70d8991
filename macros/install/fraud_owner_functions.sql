{#- The functions only the installer may execute (they take model bytes or a directory). The
    same on every platform. -#}

{% macro fraud_owner_functions(schema) -%}
    {#- The untrusted-language functions that take model bytes or a directory: the
        installer's alone (score_stack calls them as their owner). -#}
    {{ return([
        schema ~ '.score_stack_numpy(bytea, bigint, bytea, text, text, float8, integer, text, boolean)',
        schema ~ '.score_stack_keras(bytea, bigint, bytea, text, text, float8, integer, text, boolean)',
        schema ~ '.model_file_contents(text, text)',
        schema ~ '.publish_python_model(text, text, text)',
    ]) }}
{%- endmacro %}
