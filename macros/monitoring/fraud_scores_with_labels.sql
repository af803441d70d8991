{#- What fraud_score_bins aggregates, row by row: each score with its transaction's label and time.
    The same on every platform. -#}

{% macro fraud_scores_with_labels(scores, staged) -%}
    {#- A query (no WHERE: callers narrow it) of model_version, stack_id, fraud_probability,
        scored_at, is_labeled_fraud and seconds_since_start, over `scores` as scored joined with
        `staged` (the staged source) as staged. -#}
    select
        scored.model_version,
        scored.stack_id,
        scored.fraud_probability,
        scored.scored_at,
        staged.is_labeled_fraud,
        staged.seconds_since_start
    from {{ scores }} as scored
    inner join {{ staged }} as staged
        on scored.transaction_id = staged.transaction_id
{%- endmacro %}
