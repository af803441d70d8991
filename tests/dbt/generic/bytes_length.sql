-- sqlfluff:exclude_rules:LT02
-- (Jinja argument checks before the query confuse the indentation rule)
{% test bytes_length(model, column_name, length) %}
    {#- Rows whose bytea value is not exactly `length` bytes long. -#}
    {%- if length is not number or length is boolean or length < 0 %}
        {{ exceptions.raise_compiler_error(
            "test bytes_length on " ~ model ~ "." ~ column_name
            ~ ": length must be a non-negative whole number, got " ~ (length | tojson)
        ) }}
    {%- endif %}

select *
from {{ model }}
where octet_length({{ column_name }}) != {{ length }}
{% endtest %}
