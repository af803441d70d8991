{#- Private to apply_fraud_bands: the champion's recommended bands (fraud_band_options). The
    same on every platform. -#}

{% macro _fraud_recommended_bands() -%}
    {#- {review, block (SQL: exact float8 literals, or null), cost, per_day}: the champion's
        recommended bands. The thresholds travel as float8 text (exact), never as a Python
        float printed back. -#}
    {%- set scores = ref('fraud_scores') -%}
    {%- if not run_query("select to_regclass(" ~ fraud_quote_literal(scores) ~ ") is not null").rows[0][0] -%}
        {{ exceptions.raise_compiler_error(
            "no scores yet (" ~ scores ~ "): run dbt run first, or name review and block"
        ) }}
    {%- endif -%}
    {%- set sql -%}
        select
            review_threshold::text,
            block_threshold::text,
            round(expected_cost::numeric, 2),
            round(reviews_per_day::numeric, 1)
        from ({{ fraud_band_options() }}) as options
        where is_recommended
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(
            "no labeled scores of the champion to recommend bands from: name review and block"
        ) }}
    {%- endif -%}
    {{ return({
        'review': fraud_quote_literal(rows[0][0]) ~ '::float8',
        'block': (fraud_quote_literal(rows[0][1]) ~ '::float8') if rows[0][1] is not none else 'null',
        'cost': rows[0][2],
        'per_day': rows[0][3],
    }) }}
{%- endmacro %}
