{#- A pre-hook of int_credit_card__scoring_stacks: drop the stacks of a replaced source. The
    same on every platform. -#}

{% macro fraud_drop_stacks_of_replaced_source() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks: in an incremental run, delete
        the stacks built from an earlier incarnation of the raw table. -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where source_table_id is distinct from {{ fraud_source_table_id() }}
    {%- endif -%}
{%- endmacro %}
