-- sqlfluff:exclude_rules:LT02
-- (Jinja argument checks before the query confuse the indentation rule)
{% test expression_is_true(model, column_name, expression) %}
    {#- Rows for which a boolean SQL expression over the model's columns is not true. -#}
    {%- if expression is not string or not expression | trim %}
        {{ exceptions.raise_compiler_error(
            "test expression_is_true on " ~ model ~ (("." ~ column_name) if column_name else "")
            ~ ": expression must be a SQL boolean expression, got " ~ (expression | tojson)
        ) }}
    {%- endif %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
