{#- The pre-hook of fraud_feature_bins: the rows of (version, stack) pairs whose scores
    fraud_score_bins no longer holds. The same on every platform. -#}

{% macro fraud_feature_bins_forget_gone() -%}
    {#- In an incremental run: delete the counts of every pair fraud_score_bins (built before
        this model in the same run) no longer has: a stack stacked again or dropped, a
        version's scores deleted. One probe of fraud_score_bins per held pair. -#}
    {%- if not is_incremental() -%}
        select 1
    {%- else -%}
        delete from {{ this }} as held
        where not exists (
            select 1 from {{ ref('fraud_score_bins') }} as pairs
            where pairs.model_version = held.model_version and pairs.stack_id = held.stack_id
        )
    {%- endif -%}
{%- endmacro %}
