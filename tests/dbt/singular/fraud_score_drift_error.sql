-- Fail when a version's scores on a day drifted far from its reference: PSI at or above var
-- fraud_psi_error (fraud_score_drift). Each row names the version and the day.
{%- set levels = fraud_psi_levels() %}

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
        || ', PSI ' || round(psi::numeric, 3) || ' >= ' || {{ levels.error }} as problem
    from drift
    where psi >= {{ levels.error }}

)

select * from final
