{#- The stack contract (vars.fraud_stack in dbt_project.yml, its one definition): which columns
    the model reads, in order, and how a row is packed for the scorer. The same on every
    platform. -#}

{% macro fraud_stack_contract() -%}
    {#- {features, columns, id_bytes, feature_bytes, row_bytes, feature_row_bytes,
        id_send, feature_send, quarantined_bits}; validated, since it reaches SQL. -#}
    {%- set values = var('fraud_stack', {}) -%}
    {%- if values is string -%}
        {#- only under sqlfluff, whose var() renders text: .sqlfluff_lib/dbt_project.py -#}
        {%- set values = dbt_project.vars['fraud_stack'] -%}
    {%- endif -%}
    {%- set features = values.get('features') if values is mapping else none -%}
    {%- if features is string or features is not iterable or features | length == 0 -%}
        {{ exceptions.raise_compiler_error("var fraud_stack.features must be a non-empty list of column names") }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in features -%}
        {%- do columns.append(
            fraud_identifier(name | string | lower, 'feature ' ~ (name | string | tojson) ~ ' in var fraud_stack')
        ) -%}
    {%- endfor -%}
    {%- for key in ['id_bytes', 'feature_bytes', 'quarantined_bits'] if key not in values -%}
        {{ exceptions.raise_compiler_error("var fraud_stack has no " ~ key ~ " (dbt_project.yml states it)") }}
    {%- endfor -%}
    {%- set id_bytes = values['id_bytes'] | int -%}
    {%- set feature_bytes = values['feature_bytes'] | int -%}
    {%- if id_bytes != 8 or feature_bytes != 4 -%}
        {#- stated in the contract so that nothing restates 8, 4, 112 or 120, not knobs:
            the scorer computes in float32 and fraud_float4_ok bounds float4 -#}
        {{ exceptions.raise_compiler_error("var fraud_stack: the scorer reads 8-byte ids and 4-byte features") }}
    {%- endif -%}
    {{ return({
        'features': features | map('string') | list,
        'columns': columns,
        'id_bytes': id_bytes,
        'feature_bytes': feature_bytes,
        'feature_row_bytes': feature_bytes * (columns | length),
        'row_bytes': id_bytes + feature_bytes * (columns | length),
        'id_send': 'int' ~ id_bytes ~ 'send',
        'feature_send': 'float' ~ feature_bytes ~ 'send',
        'feature_type': 'float' ~ feature_bytes,
        'quarantined_bits': values['quarantined_bits'] | int,
    }) }}
{%- endmacro %}
