{#- A post-hook of int_credit_card__scoring_stacks: the stacks' distribution (Greenplum). Per
    platform: <platform>__fraud_distribute_stacks in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_distribute_stacks(relation=none) -%}
    {#- A post-hook of int_credit_card__scoring_stacks; empty except on Greenplum /
        Cloudberry, where it analyzes the stacks. The table is created DISTRIBUTED
        BY (batch_id) (config fraud_distributed_by), so the ALTER only acts on a
        stacks table built before the project created it so; every segment then
        scores its own stacks, and a rescore moves no feature at all. -#}
    {{- fraud_dispatch('fraud_distribute_stacks')(relation or this) -}}
{%- endmacro %}
