-- sqlfluff:exclude_rules:LT02
-- (Jinja argument checks before the query confuse the indentation rule)
{% test between(model, column_name, min_value, max_value) %}
    {#- Rows whose value lies outside [min_value, max_value] (NULLs pass; pair with not_null). -#}
    {%- for name, value in [('min_value', min_value), ('max_value', max_value)] %}
        {%- if value is none or value is string or value is boolean %}
            {{ exceptions.raise_compiler_error(
                "test between on " ~ model ~ "." ~ column_name ~ ": " ~ name ~ " must be a number, got "
                ~ (value | tojson)
            ) }}
        {%- endif %}
    {%- endfor %}
    {%- if min_value > max_value %}
        {{ exceptions.raise_compiler_error(
            "test between on " ~ model ~ "." ~ column_name ~ ": min_value " ~ min_value
            ~ " is above max_value " ~ max_value
        ) }}
    {%- endif %}

select *
from {{ model }}
-- NaN sorts above every number in PostgreSQL, so it fails max_value too
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
