{#- Incremental tables, for SQL and Python models. -#}

{% materialization incremental, adapter='postgres', supported_languages=['sql', 'python'] -%}
    {#- dbt-postgres's own incremental materialization takes SQL only. A SQL model is built
        by it, unchanged; a Python model runs inside the database through PL/Python
        (fraud_python_incremental, docs/python-models.md). A SQL model may also name
        statements committed in a transaction of their own before the model's transaction
        begins (config fraud_before_transaction) and after it commits
        (fraud_after_commit): stacking registers as a reader of the change log before its
        snapshot is taken, and clears the log with a snapshot taken after its commit.
        Not dbt's before_begin / after_commit hooks, nor adapter.commit(): dbt commits by
        sending COMMIT, after which psycopg2 still counts a transaction open and sends no
        BEGIN, so every later statement of the node would commit on its own (the
        pre-hooks' temporary tables, ON COMMIT DROP, gone before the model reads them).
        The statements end and begin the server's transactions themselves. -#}
    {%- if model.language == 'python' -%}
        {{ return(fraud_python_incremental()) }}
    {%- endif -%}
    {%- set before = config.get('fraud_before_transaction') -%}
    {%- if before -%}
        {#- in the transaction psycopg2 opens, committed, and the model's own begun -#}
        {%- call statement('fraud_before_transaction', auto_begin=true) -%}
            {{ render(before) }};
            commit;
            begin
        {%- endcall -%}
    {%- endif -%}
    {%- set result = materialization_incremental_default() -%}
    {%- set after = config.get('fraud_after_commit') -%}
    {%- if after -%}
        {#- after dbt's COMMIT: a transaction of its own, begun and ended here -#}
        {%- call statement('fraud_after_commit', auto_begin=false) -%}
            begin;
            {{ render(after) }};
            commit
        {%- endcall -%}
    {%- endif -%}
    {{ return(result) }}
{%- endmaterialization %}
