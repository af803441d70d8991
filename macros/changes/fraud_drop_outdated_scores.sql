{#- A pre-hook of fraud_scores: the scores of a replaced source, and of stacks no longer stored,
    deleted. Its platform differences are in the macros it calls: fraud_delete_scores_of_gone_stacks. -#}

{% macro fraud_drop_outdated_scores() -%}
    {#- A pre-hook of fraud_scores, in an incremental run: scores of a source that was
        replaced or truncated since (the table's comment names the source it scored),
        and scores whose stack (stack_id) is no longer stored (its rows changed and
        were stacked again, or were deleted), are deleted in the transaction that
        scores their replacements. -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where (select {{ _fraud_scored_source(this) }} is distinct from 'source ' || {{ fraud_source_table_id() }});
        {{ fraud_delete_scores_of_gone_stacks(this, ref('int_credit_card__scoring_stacks')) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_scored_source(relation) -%}
    obj_description({{ fraud_quote_literal(relation) }}::regclass, 'pg_class')
{%- endmacro %}
