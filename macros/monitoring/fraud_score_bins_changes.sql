{#- The second pre-hook of fraud_score_bins: which (version, stack) pairs to aggregate, and the
    aggregate rows that no longer hold. The same on every platform; the probe for a pair's
    scores is fraud_pair_has_scores'. -#}

{% macro fraud_score_bins_changes() -%}
    {#- In an incremental run (after fraud_score_bins_begin's lock): the pairs with a score
        written since the newest the aggregate holds go into pg_temp.fraud_score_bins_new (the
        model's query aggregates them), and the aggregate rows of those pairs, and of pairs
        whose scores are gone (their stack is no longer stored, or the version's scores of it
        were deleted), are deleted. Every stack's scores by a version are written by one
        statement, so a pair is new or gone as a whole. The newest time held is read while
        this hook renders, inside the locked transaction, and written into the statement as a
        literal: the planner then sees how few scores are newer and reads them through the
        scored_at index instead of scanning every score. A run that aggregated nothing leaves
        that time where it was. -#}
    {%- if not is_incremental() -%}
        select 1
    {%- else -%}
        {%- set newest = none -%}
        {%- if execute -%}
            {%- set newest = run_query('select max(scored_at)::text from ' ~ this).columns[0].values()[0] -%}
        {%- endif -%}
        {%- set scores = ref('fraud_scores') -%}
        {%- set stacks = ref('int_credit_card__scoring_stacks') %}
        drop table if exists pg_temp.fraud_score_bins_new;
        create temporary table fraud_score_bins_new on commit drop as
        select distinct
            scored.model_version,
            scored.stack_id
        from {{ scores }} as scored
        where scored.scored_at > {{ fraud_quote_literal(newest if newest is not none else '-infinity') }}::timestamptz;
        analyze pg_temp.fraud_score_bins_new;
        delete from {{ this }} as aggregated
        using (
            select
                new_pairs.model_version,
                new_pairs.stack_id
            from pg_temp.fraud_score_bins_new as new_pairs
            union
            select
                pairs.model_version,
                pairs.stack_id
            from (select distinct model_version, stack_id from {{ this }}) as pairs
            where not ({{ fraud_pair_has_scores('pairs', stacks, scores) }})
        ) as outdated
        where aggregated.model_version = outdated.model_version and aggregated.stack_id = outdated.stack_id
    {%- endif -%}
{%- endmacro %}
