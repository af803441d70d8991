{#- What runs the network in the database (var fraud_scoring_runtime): numpy or keras. The same
    on every platform. -#}

{% macro fraud_scoring_runtime() -%}
    {#- What runs the network inside the database: numpy (h5py + NumPy) or keras
        (TensorFlow in a child process). Not to be confused with fraud_platform(),
        the database: postgres or greenplum. -#}
    {%- do fraud_renamed_var('fraud_engine', 'fraud_scoring_runtime') -%}
    {%- set runtime = var('fraud_scoring_runtime', 'numpy') | string -%}
    {{ return(fraud_choice('fraud_scoring_runtime', runtime, ['numpy', 'keras'])) }}
{%- endmacro %}
