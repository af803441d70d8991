{#- The first pre-hook of fraud_score_bins and fraud_feature_bins: one aggregating transaction
    at a time. Per platform: <platform>__fraud_score_bins_begin in macros/platforms/postgres.sql
    and greenplum.sql. -#}

{% macro fraud_score_bins_begin() -%}
    {#- The first pre-hook of fraud_score_bins (and of fraud_feature_bins, which follows its
        pairs), right after BEGIN: the aggregate locked against other aggregating runs (two
        runs at once would both aggregate the same new pairs), and
        on PostgreSQL one snapshot of fraud_scores for the whole transaction, taken after the
        lock is granted. It runs no query while rendered: no query may precede SET TRANSACTION. -#}
    {{ fraud_dispatch('fraud_score_bins_begin')(load_cached_relation(this)) }}
{%- endmacro %}
