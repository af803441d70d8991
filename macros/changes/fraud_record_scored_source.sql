{#- A post-hook of fraud_scores: the source it scored, in the table's comment. The same on every
    platform. -#}

{% macro fraud_record_scored_source() -%}
    {#- A post-hook of fraud_scores: the source it scored, in the table's comment. -#}
    do $$ begin
        execute format(
            'comment on table %s is %L', {{ fraud_quote_literal(this) }}, 'source ' || {{ fraud_source_table_id() }}
        );
    end $$
{%- endmacro %}
