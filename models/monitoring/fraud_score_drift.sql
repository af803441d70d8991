{#- Score drift: per model version and day of the data, the population stability index (PSI)
    of the day's scores against the version's reference distribution (the scores of the rows
    it was trained on, stored with the model at registration: stg_fraud__models.reference_scores),
    on the reference's PSI bins (about ten of equal reference share, with fine-bin edges, so a
    day's share in each is a sum of whole fine bins from fraud_score_bins: exact).
    PSI = sum over bins of (a - e) ln(a / e), a the day's share, e the reference's, each
    floored at 0.0001 so that an empty bin counts (as 0.01%) instead of dividing by zero.
    A view on the small aggregate, computed when read. -#}
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

reference as (

    select
        models.model_version,
        psi_bins.psi_bin::integer as psi_bin,
        (psi_bins.value ->> 'upper_bin')::integer as upper_bin,
        (psi_bins.value ->> 'share')::float8 as expected_share
    from models
    cross join
        lateral
        jsonb_array_elements(models.reference_scores -> 'psi_bins')
        with ordinality as psi_bins (value, psi_bin)

),

edges as (

    select
        model_version,
        psi_bin,
        upper_bin,
        expected_share,
        coalesce(
            lag(upper_bin) over (partition by model_version order by psi_bin), -2147483648
        ) as lower_bin
    from reference

),

shares as (

    select
        days.model_version,
        days.transaction_day,
        edges.psi_bin,
        edges.expected_share,
        coalesce(sum(bins.scored_rows), 0)::float8 / days.scored_rows as actual_share
    from days
    inner join edges on days.model_version = edges.model_version
    left join {{ ref('fraud_score_bins') }} as bins
        on
            days.model_version = bins.model_version
            and days.transaction_day = bins.transaction_day
            and edges.lower_bin < bins.probability_bin
            and edges.upper_bin >= bins.probability_bin
    group by days.model_version, days.transaction_day, edges.psi_bin, edges.expected_share, days.scored_rows

),

psi as (

    select
        model_version,
        transaction_day,
        count(*) as psi_bins,
        {{ fraud_psi('actual_share', 'expected_share') }} as psi
    from shares
    group by model_version, transaction_day

),

final as (

    select
        days.model_version,
        days.transaction_day,
        days.scored_rows,
        psi.psi_bins,
        psi.psi,
        (models.reference_scores ->> 'rows')::bigint as reference_rows,
        models.reference_scores ->> 'source' as reference_source,
        case
            when psi.psi is null then 'no reference'
            else {{ fraud_psi_status('psi.psi') | indent(12) }}
        end as drift_status
    from days
    left join models on days.model_version = models.model_version
    left join psi
        on
            days.model_version = psi.model_version
            and days.transaction_day = psi.transaction_day

)

select * from final
