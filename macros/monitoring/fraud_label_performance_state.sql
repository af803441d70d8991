{#- What fraud_label_performance's rows of a (version, day) were computed from, besides labels.
    The same on every platform. -#}

{% macro fraud_label_performance_state() -%}
    {#- A query of model_version, transaction_day, scored_rows, scores_scored_at and threshold:
        per version and day of the data, its scores now (summed from fraud_score_bins, which
        holds them aggregated, rather than read from fraud_scores) and the threshold in force.
        A (version, day) whose state differs from what its rows hold is recomputed whole. -#}
    select
        scored.model_version,
        scored.transaction_day,
        scored.scored_rows,
        scored.scores_scored_at,
        thresholds.threshold
    from (
        select
            model_version,
            transaction_day,
            sum(scored_rows)::bigint as scored_rows,
            max(scored_at) as scores_scored_at
        from {{ ref('fraud_score_bins') }}
        group by model_version, transaction_day
    ) as scored
    inner join (
        {{ fraud_version_thresholds(ref('fraud_deployments'), ref('stg_fraud__models')) | indent(8) }}
    ) as thresholds
        on scored.model_version = thresholds.model_version
{%- endmacro %}
