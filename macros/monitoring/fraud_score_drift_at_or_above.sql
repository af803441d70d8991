{#- The rows of fraud_score_drift at or above a PSI level, each naming its version and day: what the
    drift tests (tests/dbt/singular/fraud_score_drift_warn.sql, _error.sql) return. The same on
    every platform. -#}

{% macro fraud_score_drift_at_or_above(level) -%}
    {#- A query: version, day, PSI and a problem text for every day whose PSI is at or above
        `level` (a number from fraud_psi_levels). -#}
with

drift as (

    select * from {{ ref('fraud_score_drift') }}

),

final as (

    select
        model_version,
        transaction_day,
        psi,
        'score drift: ' || model_version || ' on day ' || transaction_day
        || ', PSI ' || round(psi::numeric, 3) || ' >= ' || {{ level }} as problem
    from drift
    where psi >= {{ level }}

)

select * from final
{%- endmacro %}
