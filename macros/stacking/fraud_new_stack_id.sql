{#- A new stack's identity, the id every score records (fraud_scores.stack_id). The same on
    every platform. -#}

{% macro fraud_new_stack_id() -%}
    {#- A stack's identity: a random 62-bit integer drawn when the stack is built. Every
        score records the stack it was computed from (fraud_scores.stack_id), so a score
        whose stack has been replaced (its rows changed) or removed is found by an
        anti-join on this id alone, on every platform. Two stacks share an id with
        probability about n^2 / 2^63 for n stacks ever built. -#}
    (random() * 4611686018427387904)::bigint
{%- endmacro %}
