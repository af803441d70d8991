-- sqlfluff:exclude_rules:LT02
-- (the macros return statements chosen per platform, which the indentation rule cannot place)
{#- Source rows deleted, inserted below the stacked ids, or a source replaced: stacks and
    scores follow (PostgreSQL; a corrected row, updated in place, needs
    `dbt run --full-refresh --select int_credit_card__scoring_stacks+`). -#}

{% macro fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run: stored
        stacks whose source rows changed since they were stacked, stacked again
        (PostgreSQL; nothing on Greenplum / Cloudberry, where a changed source needs a
        full refresh). -#}
    {%- if is_incremental() -%}
        {{ fraud_dispatch('fraud_restack_changed_batches')() }}
    {%- endif -%}
{%- endmacro %}

{% macro fraud_watch_source() -%}
    {#- At the start of every dbt run: what lets the platform see source rows changed
        in place (PostgreSQL: triggers on the raw table; nothing on Greenplum /
        Cloudberry). -#}
    {{- fraud_dispatch('fraud_watch_source')() -}}
{%- endmacro %}

{% macro fraud_drop_outdated_scores() -%}
    {#- A pre-hook of fraud_scores, in an incremental run: scores of a source that was
        replaced or truncated since (the table's comment names the source it scored),
        and scores of stacks stacked again after they were scored (their first score
        is older than the stack), are deleted, so the run scores them anew: deleted
        transactions lose their scores. -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where (select {{ _fraud_scored_source(this) }} is distinct from 'source ' || {{ fraud_source_table_id() }});
        {{ fraud_drop_restacked_scores() }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro fraud_drop_restacked_scores() -%}
    {#- The DELETE of scores outdated by stacks built since they were scored. -#}
    {{ fraud_dispatch('fraud_drop_restacked_scores')() }}
{%- endmacro %}

{% macro fraud_record_scored_source() -%}
    {#- A post-hook of fraud_scores: the source it scored, in the table's comment. -#}
    do $$ begin
        execute format(
            'comment on table %s is %L', {{ fraud_quote_literal(this) }}, 'source ' || {{ fraud_source_table_id() }}
        );
    end $$
{%- endmacro %}

{% macro _fraud_scored_source(relation) -%}
    obj_description({{ fraud_quote_literal(relation) }}::regclass, 'pg_class')
{%- endmacro %}
