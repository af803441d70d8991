{#- The statement that runs a Python model's published code: a call of
    {schema}.run_python_model with the model's configuration as JSON data, never as code. -#}

{% macro fraud_python_run_sql(relation, is_incremental) -%}
    {#- The statement that runs this Python model inside the database and writes what
        model() returns into `relation`: a call of {schema}.run_python_model with the
        model's code (compared there with its published copy) and a JSON context, which
        is data: what dbt.ref()/dbt.source() resolve to, config, this, is_incremental.
        Before it: a superuser publishes the code (a superuser may run any Python anyway);
        an enforced contract creates `relation` from the contract, so the output's
        columns and types are the contract's. dbt-core refuses `contract: {enforced: true}`
        on a Python model when it parses the project ("Language Error: Expected 'sql'"),
        so a Python model states it under meta: `meta: {python_contract: {enforced: true}}`,
        with its columns' data_type and constraints in YAML as for a SQL contract. -#}
    {%- set schema = fraud_schema() -%}
    {%- do _fraud_python_check_installed(schema) -%}
    {%- if run_query("select rolsuper from pg_roles where rolname = current_user").rows[0][0] -%}
        {%- do run_query('select ' ~ schema ~ '.publish_python_model(' ~ fraud_quote_literal(model.unique_id) ~ ', '
            ~ fraud_quote_literal(model.original_file_path) ~ ', ' ~ fraud_quote_literal(model.raw_code) ~ ')') -%}
    {%- endif -%}
    {%- set temporary = relation.schema is none -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- set enforced = (meta.get('python_contract') or {}).get('enforced', false) is true -%}
    {%- if enforced -%}
        {%- do run_query('create ' ~ ('temporary ' if temporary else '') ~ 'table ' ~ relation ~ ' '
            ~ get_table_columns_and_constraints()) -%}
    {%- endif -%}
    {%- set context = _fraud_python_model_context() -%}
    {%- do context.update({
        'is_incremental': is_incremental,
        'target': {'schema': relation.schema, 'identifier': relation.identifier, 'temporary': temporary},
        'create': not enforced,
        'contract': enforced,
        'max_input_rows': meta.get('python_max_input_rows'),
    }) -%}
    select {{ schema }}.run_python_model({{ fraud_quote_literal(context | tojson) }}, {{ fraud_quote_literal(model.raw_code) }})
{%- endmacro %}

{% macro _fraud_python_model_context() -%}
    {#- What run_python_model is told of the model itself: its refs and sources resolved, the
        config and meta keys its code reads, this. (Also what fraud_python_inputs_unchanged
        fingerprints.) -#}
    {{ return({
        'unique_id': model.unique_id,
        'refs': _fraud_python_refs(),
        'sources': _fraud_python_sources(),
        'config': _fraud_python_config('config_keys_used', 'config_keys_defaults', model.config),
        'meta': _fraud_python_config('meta_keys_used', 'meta_keys_defaults', model.config.get('meta') or {}),
        'this': {'database': this.database, 'schema': this.schema, 'identifier': this.identifier},
    }) }}
{%- endmacro %}

{% macro _fraud_python_check_installed(schema) -%}
    {#- Without the runner (an installation from before Python models, or none) the error
        says who must install it, rather than "function does not exist". -#}
    {%- set found = run_query("select to_regprocedure('" ~ schema ~ ".run_python_model(text, text)') is not null, "
        ~ "exists (select 1 from pg_language where lanname = 'plpython3u')").rows[0] -%}
    {%- if not found[1] -%}
        {{ exceptions.raise_compiler_error(
            "Python models run inside the database in PL/Python, and this database has no plpython3u: a superuser "
            ~ "runs CREATE EXTENSION plpython3u (Debian: apt-get install postgresql-plpython3-<version>), then "
            ~ "`dbt run-operation install_fraud_scoring`"
        ) }}
    {%- endif -%}
    {%- if not found[0] -%}
        {{ exceptions.raise_compiler_error(
            "Python models run through " ~ schema ~ ".run_python_model, which is not installed: a superuser runs "
            ~ "`dbt run-operation install_fraud_scoring`"
        ) }}
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_python_refs() -%}
    {#- ref key (as dbt's postfix keys it: [package.]name[.vN]) -> {database, schema, identifier} -#}
    {%- set refs = {} -%}
    {%- for r in model.refs -%}
        {%- set args = [r.get('package'), r['name']] if r.get('package') else [r['name']] -%}
        {%- set resolved = ref(*args, v=r.get('version')) -%}
        {%- set key = args | join('.') ~ ('.v' ~ r['version'] if r.get('version') else '') -%}
        {%- do refs.update({key: {'database': resolved.database, 'schema': resolved.schema,
            'identifier': resolved.identifier}}) -%}
    {%- endfor -%}
    {{ return(refs) }}
{%- endmacro %}

{% macro _fraud_python_sources() -%}
    {%- set sources = {} -%}
    {%- for s in model.sources -%}
        {%- set resolved = source(*s) -%}
        {%- do sources.update({s | join('.'): {'database': resolved.database, 'schema': resolved.schema,
            'identifier': resolved.identifier}}) -%}
    {%- endfor -%}
    {{ return(sources) }}
{%- endmacro %}

{% macro _fraud_python_config(keys_name, defaults_name, values) -%}
    {#- the config (or meta) keys model() reads with dbt.config.get / meta_get, as dbt's
        build_config_dict collects them: each key's value, else its default -#}
    {%- set out = {} -%}
    {%- set keys = model.config.get(keys_name) or [] -%}
    {%- set defaults = model.config.get(defaults_name) or [] -%}
    {%- for key in keys -%}
        {%- do out.update({key: values.get(key, defaults[loop.index0])}) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}
