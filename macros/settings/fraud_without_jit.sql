{#- The pre-hook every model runs first (dbt_project.yml): its transaction without JIT. Per
    platform: <platform>__fraud_without_jit in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_without_jit() -%}
    {#- JIT off until the model's transaction ends. PostgreSQL compiles a query's expressions
        once its estimated cost passes jit_above_cost, and this project's queries read
        millions of rows to evaluate few expressions: compiling cost more than it saved in
        every model measured. At 8,000,000 scored rows a `dbt run` with nothing new spent
        2.1 s of its 6.6 s compiling fraud_label_performance's two queries (0.5 s each, and
        again in each parallel worker), which then ran in 7 ms; scoring 2,000,000 rows spent
        1.3 s compiling and saved nothing; stacking 10,000 new rows on 1,000,000 spent 1.9 s
        of 2.4 s. Nothing (dbt runs no empty hook) in a full build of a model with config
        fraud_jit_in_full_builds, one that computes expressions on every row: building
        fraud_score_bins from 8,000,000 scores took 16.8 s without JIT and 14.9 s with it,
        fraud_feature_bins 14.9 and 14.3 s. -#}
    {%- if config.get('fraud_jit_in_full_builds', false) and not is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(fraud_dispatch('fraud_without_jit')()) }}
{%- endmacro %}
