{#- A pre-hook of fraud_scores: the scores of a replaced source, and of stacks no longer stored,
    deleted. The same on every platform. -#}

{% macro fraud_drop_outdated_scores() -%}
    {#- A pre-hook of fraud_scores, in an incremental run: scores of a source that was
        replaced or truncated since (the table's comment names the source it scored),
        and scores whose stack (stack_id) is no longer stored (its rows changed and
        were stacked again, or were deleted), are deleted in the transaction that
        scores their replacements. -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where (select {{ _fraud_scored_source(this) }} is distinct from 'source ' || {{ fraud_source_table_id() }});
        delete from {{ this }} as scores
        where not exists (
            select 1 from {{ ref('int_credit_card__scoring_stacks') }} as stacked
            where stacked.stack_id = scores.stack_id
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_scored_source(relation) -%}
    obj_description({{ fraud_quote_literal(relation) }}::regclass, 'pg_class')
{%- endmacro %}
