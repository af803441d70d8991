-- Fail when monitoring went quiet: a day of the data with scorable transactions but no score
-- of the champion in the monitoring aggregate (fraud_score_bins), so no distribution, PR-AUC or
-- drift for that day. Each row names the day and the champion.
{%- set model = fraud_selected_model() %}

with

days as (

    select
        floor(seconds_since_start / 86400)::integer as transaction_day,
        count(*) as scorable_rows
    from {{ ref('stg_raw__credit_card') }}
    where has_scorable_features
    group by 1

),

monitored as (

    select distinct transaction_day
    from {{ ref('fraud_score_bins') }}
    where model_version = {{ fraud_quote_literal(model.version) }}

),

final as (

    select
        days.transaction_day,
        days.scorable_rows,
        'monitoring quiet: day ' || days.transaction_day || ' has ' || days.scorable_rows
        || ' scorable transactions and no score of the champion ' || {{ fraud_quote_literal(model.version) }}
            as problem
    from days
    where not exists (
        select 1 from monitored
        where monitored.transaction_day = days.transaction_day
    )

)

select * from final
