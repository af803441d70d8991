{#- The functions the roles that score may execute. The same on every platform. -#}

{% macro fraud_scoring_functions(schema) -%}
    {#- What the roles in var fraud_scoring_roles may execute: the SECURITY DEFINER entry
        point, which takes a model's name, never its bytes, and functions of no input
        (or of a path checked against the allowed directory) that return no file's content, and
        feature_bin_counts, a pure function of the bytes it is given. -#}
    {{ return([
        schema ~ '.score_stack(bytea, bigint, text, text, float8, integer, boolean)',
        schema ~ '.model_file_info(text)',
        schema ~ '.probe_packages()',
        schema ~ '.scoring_package()',
        schema ~ '.probability_from_bits(integer)',
        schema ~ '.run_python_model(text, text)',
        schema ~ '.feature_bin_counts(bytea, bytea, bytea, text)',
    ]) }}
{%- endmacro %}
