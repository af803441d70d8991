{#- The band recommendation's settings: vars fraud_band_window_days, fraud_review_cost,
    fraud_blocked_legit_cost, fraud_review_capacity and fraud_band_candidates, validated. The
    same on every platform. -#}

{% macro fraud_band_settings() -%}
    {#- {window_days, review_cost, blocked_legit_cost, review_capacity, candidates}: each a
        number checked as text (so nothing but a number reaches SQL); window_days and
        candidates whole numbers (at least 1, and 2 to 1000), the costs and the capacity
        non-negative. -#}
    {%- set settings = {} -%}
    {%- for name, key, default, whole in [
        ('fraud_band_window_days', 'window_days', 7, true),
        ('fraud_review_cost', 'review_cost', 5, false),
        ('fraud_blocked_legit_cost', 'blocked_legit_cost', 25, false),
        ('fraud_review_capacity', 'review_capacity', 200, false),
        ('fraud_band_candidates', 'candidates', 41, true),
    ] -%}
        {%- set text = var(name, default) | string | trim -%}
        {%- set pattern = '[0-9]+' if whole else '[0-9]*[.]?[0-9]+' -%}
        {%- if not modules.re.fullmatch(pattern, text) -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ " must be a " ~ ("whole" if whole else "non-negative") ~ " number, got "
                ~ (text | tojson)
            ) }}
        {%- endif -%}
        {%- do settings.update({key: (text | int) if whole else (text | float)}) -%}
    {%- endfor -%}
    {%- if settings.window_days < 1 -%}
        {{ exceptions.raise_compiler_error("var fraud_band_window_days must be at least 1") }}
    {%- endif -%}
    {%- if settings.candidates < 2 or settings.candidates > 1000 -%}
        {{ exceptions.raise_compiler_error("var fraud_band_candidates must be 2 to 1000") }}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}
