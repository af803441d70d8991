{#- One stack of the staged transactions in an id range (PostgreSQL's stacking). The same on
    every platform. -#}

{% macro fraud_stack_range(staged, first_id_sql, last_id_sql) -%}
    {#- One stack of the staged transactions with ids between two SQL expressions (a
        lateral subquery: n_rows is 0 and the stack NULL when there are none). -#}
select
    {{ fraud_stack_columns() | indent(4) }}
from {{ staged }} as staged
where staged.transaction_id between {{ first_id_sql }} and {{ last_id_sql }}
{%- endmacro %}
