{#- The first pre-hook of int_credit_card__scoring_stacks: one stacking transaction at a time.
    Per platform: <platform>__fraud_stacking_begin in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_stacking_begin() -%}
    {#- The first pre-hook of int_credit_card__scoring_stacks, right after BEGIN: one
        stacking transaction at a time (the stored stacks locked against other
        writers; readers go on), and on PostgreSQL one snapshot of the source for the
        whole transaction, taken after the lock is granted, so the stacks it writes
        and the snapshot it records (stacked_snapshot) agree. It runs no query while
        rendered: nothing may precede SET TRANSACTION. -#}
    {{ fraud_dispatch('fraud_stacking_begin')(load_cached_relation(this)) }}
{%- endmacro %}
