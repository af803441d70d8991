{#- What fraud_score_bins reads in an incremental run: the new pairs' scores with their labels.
    Per platform: <platform>__fraud_score_bins_new_scores in macros/platforms/postgres.sql
    and greenplum.sql. -#}

{% macro fraud_score_bins_new_scores(new_pairs, stacks, scores, staged) -%}
    {#- A FROM clause: `new_pairs` (model_version, stack_id) as new_pairs, joined with the
        pair's scores and their source rows, as `scored` (model_version, stack_id,
        fraud_probability, scored_at, is_labeled_fraud, seconds_since_start). -#}
    {{ fraud_dispatch('fraud_score_bins_new_scores')(new_pairs, stacks, scores, staged) }}
{%- endmacro %}
