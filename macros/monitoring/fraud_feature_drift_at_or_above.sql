{#- The rows of fraud_feature_drift at or above a PSI level, each naming its version, day and
    feature: what the feature drift tests (tests/dbt/singular/fraud_feature_drift_warn.sql,
    _error.sql) return. The same on every platform. -#}

{% macro fraud_feature_drift_at_or_above(level) -%}
    {#- A query: version, day, feature, PSI and a problem text for every (day, feature) whose PSI
        is at or above `level` (a number from fraud_psi_levels). -#}
with

drift as (

    select * from {{ ref('fraud_feature_drift') }}

),

final as (

    select
        model_version,
        transaction_day,
        feature,
        psi,
        'feature drift: ' || feature || ' of ' || model_version || ' on day ' || transaction_day
        || ', PSI ' || round(psi::numeric, 3) || ' >= ' || {{ level }} as problem
    from drift
    where psi >= {{ level }}

)

select * from final
{%- endmacro %}
