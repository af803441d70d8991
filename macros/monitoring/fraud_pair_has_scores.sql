{#- Whether a (version, stack) pair the monitoring aggregate holds still has its scores. Per
    platform: <platform>__fraud_pair_has_scores in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_pair_has_scores(pairs, stacks, scores) -%}
    {#- True when the stack `pairs`.stack_id is stored in `stacks` and `scores` holds its scores
        by `pairs`.model_version: one probe per pair, not a read of every score. -#}
    {{ fraud_dispatch('fraud_pair_has_scores')(pairs, stacks, scores) }}
{%- endmacro %}
