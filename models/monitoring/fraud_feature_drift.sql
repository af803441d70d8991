{#- Feature (input) drift: per model version, day of the data and input feature, the population
    stability index of the day's values against the version's reference (the values of its
    training rows, stored with the model at registration: stg_fraud__models.reference_features),
    on the reference's bins (its deciles; fraud_scoring.feature_bins). The day's counts are
    fraud_feature_bins' (incremental, per stack); the PSI is the score drift's: sum over bins of
    (a - e) ln(a / e), a the day's share, e the reference's, each floored at 0.0001 (fraud_psi).
    One row per version with scores, day and feature of the model; 'no reference' for a version
    registered without one. A view on the small aggregate, computed when read.
    Set-returning functions in the select list instead of LATERAL joins: Greenplum runs these
    (the two of reference_bins have the same length, so they run in step on every version). -#}
{{ config(materialized='view') }}

with

days as (

    select
        model_version,
        transaction_day,
        sum(scored_rows) as scored_rows
    from {{ ref('fraud_score_bins') }}
    group by model_version, transaction_day

),

models as (

    select * from {{ ref('stg_fraud__models') }}

),

model_features as (

    select
        model_version,
        jsonb_array_elements_text(features) as feature
    from models

),

reference_features as (

    select
        model_version,
        jsonb_array_elements(reference_features -> 'features') as entry
    from models
    where reference_features is not null

),

reference_bins as (

    select
        model_version,
        entry ->> 'name' as feature,
        generate_series(0, jsonb_array_length(entry -> 'counts') - 1) as feature_bin,
        jsonb_array_elements_text(entry -> 'counts')::float8 as reference_count
    from reference_features

),

reference as (

    select
        model_version,
        feature,
        feature_bin,
        reference_count / sum(reference_count) over (partition by model_version, feature) as expected_share
    from reference_bins

),

counts as (

    select
        model_version,
        transaction_day,
        feature,
        feature_bin,
        sum(feature_rows) as feature_rows
    from {{ ref('fraud_feature_bins') }}
    group by model_version, transaction_day, feature, feature_bin

),

day_counts as (

    select
        model_version,
        transaction_day,
        feature,
        sum(feature_rows) as feature_rows
    from counts
    group by model_version, transaction_day, feature

),

shares as (

    select
        day_counts.model_version,
        day_counts.transaction_day,
        day_counts.feature,
        reference.expected_share,
        coalesce(counts.feature_rows, 0)::float8 / day_counts.feature_rows as actual_share
    from day_counts
    inner join reference
        on
            day_counts.model_version = reference.model_version
            and day_counts.feature = reference.feature
    left join counts
        on
            day_counts.model_version = counts.model_version
            and day_counts.transaction_day = counts.transaction_day
            and day_counts.feature = counts.feature
            and reference.feature_bin = counts.feature_bin

),

psi as (

    select
        model_version,
        transaction_day,
        feature,
        count(*) as psi_bins,
        {{ fraud_psi('actual_share', 'expected_share') }} as psi
    from shares
    group by model_version, transaction_day, feature

),

final as (

    select
        days.model_version,
        days.transaction_day,
        model_features.feature,
        days.scored_rows,
        day_counts.feature_rows as counted_rows,
        psi.psi_bins,
        psi.psi,
        (models.reference_features ->> 'rows')::bigint as reference_rows,
        models.reference_features ->> 'source' as reference_source,
        case
            when models.reference_features is null then 'no reference'
            when psi.psi is null then 'no values'
            else {{ fraud_psi_status('psi.psi') | indent(12) }}
        end as drift_status
    from days
    inner join models on days.model_version = models.model_version
    inner join model_features on days.model_version = model_features.model_version
    left join day_counts
        on
            days.model_version = day_counts.model_version
            and days.transaction_day = day_counts.transaction_day
            and model_features.feature = day_counts.feature
    left join psi
        on
            days.model_version = psi.model_version
            and days.transaction_day = psi.transaction_day
            and model_features.feature = psi.feature

)

select * from final
