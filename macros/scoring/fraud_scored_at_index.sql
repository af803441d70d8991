{#- A post-hook of fraud_scores: an index on scored_at, so that monitoring reads only the scores
    written since it last ran. Per platform: <platform>__fraud_scored_at_index in
    macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_scored_at_index() -%}
    {#- A post-hook of fraud_scores: a BRIN index on scored_at where the platform has BRIN (created
        once per table: a full refresh builds a new table, and this hook its index). Scores are
        appended in scoring order, so a BRIN range's bounds are tight and `scored_at > last seen`
        reads the newest pages only (fraud_score_bins). -#}
    {{ fraud_dispatch('fraud_scored_at_index')(this) }}
{%- endmacro %}
