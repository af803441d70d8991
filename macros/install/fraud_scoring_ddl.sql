-- sqlfluff:exclude_rules:LT02
-- (the DDL script holds a PL/Python body, which keeps Python's own indentation)
{#- The install's DDL script: the registry's tables, the scoring functions (PL/Python), the
    roles' entry point score_stack. Its platform differences are in the macros it calls:
    fraud_install_change_log, fraud_install_one_champion_index, fraud_install_parallel_label,
    fraud_install_placement_keys, fraud_install_table_distribution. -#}

{% macro fraud_scoring_ddl(schema) -%}
{#- The platform's parts come from macros/platforms/<platform>.sql (fraud_install_*):
    on Greenplum / Cloudberry every segment reads the registry locally (replicated
    tables) and there are no PARALLEL labels (Greenplum 6 does not parse them;
    segments are its parallelism). -#}
{%- set distributed = fraud_install_table_distribution() -%}
do $$
begin
    -- per database; the install runs as a superuser, who may create it
    if not exists (select 1 from pg_language where lanname = 'plpython3u')
        and exists (select 1 from pg_available_extensions where name = 'plpython3u') then
        create extension plpython3u;
    end if;
    if not exists (select 1 from pg_language where lanname = 'plpython3u') then
        raise exception 'fraud scoring needs the plpython3u language in this database: CREATE EXTENSION plpython3u as a superuser (Debian: apt-get install postgresql-plpython3-<version>). Greenplum 6 builds that ship only plpythonu (Python 2) cannot run it: use Greenplum 7 or Apache Cloudberry, or a Greenplum 6 build with plpython3u';
    end if;
end
$$;

create schema if not exists {{ schema }};

create table if not exists {{ schema }}.models (
    model_version text primary key check (model_version ~ {{ fraud_quote_literal('^' ~ fraud_name_pattern('model_version') ~ '$') }}),
    model_name text not null,
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    model_h5 bytea not null,
    metadata jsonb not null,
    registered_at timestamptz not null default clock_timestamp()
){{ distributed }};

create table if not exists {{ schema }}.installation (
    component text primary key,
    version text not null,
    installed_at timestamptz not null default now()
){{ distributed }};

{{ fraud_install_placement_keys(schema) }}

-- Which registered versions score, and which one decides: the champion (one at
-- most) and its challengers, scored side by side. Changed by the operations in
-- macros/deployments/ (promote, add a challenger, retire, roll back, set a
-- threshold), never by registering a model. threshold: NULL for the model's own.
create table if not exists {{ schema }}.deployments (
    model_version text primary key,
    role text not null check (role in ('champion', 'challenger')),
    threshold float8 check (threshold > 0 and threshold < 1),
    changed_at timestamptz not null default clock_timestamp(),
    changed_by text not null default current_user
){{ distributed }};
{{ fraud_install_one_champion_index(schema) }}

-- every change to deployments, appended: what roll back reads
create table if not exists {{ schema }}.deployment_history (
    changed_at timestamptz not null default clock_timestamp(),
    model_version text not null,
    role text not null check (role in ('champion', 'challenger', 'retired')),
    threshold float8,
    changed_by text not null default current_user
){{ distributed }};

-- The bands: below threshold approve, from threshold review, from block_threshold block
-- (NULL: no block band; equal to threshold: no review band). Added to earlier
-- installations' tables too (a DO block: Greenplum 6 has no ADD COLUMN IF NOT EXISTS).
do $$
begin
    if not exists (
        select 1 from pg_attribute
        where attrelid = '{{ schema }}.deployments'::regclass and attname = 'block_threshold' and not attisdropped
    ) then
        alter table {{ schema }}.deployments add column block_threshold float8
            check (block_threshold > 0 and block_threshold < 1 and block_threshold >= threshold);
    end if;
    if not exists (
        select 1 from pg_attribute
        where attrelid = '{{ schema }}.deployment_history'::regclass and attname = 'block_threshold'
            and not attisdropped
    ) then
        alter table {{ schema }}.deployment_history add column block_threshold float8;
    end if;
end
$$;

-- The audit of every change of a deployment's threshold or bands: who (current_user and
-- session_user), when, which version, the values before and after (NULL threshold: the
-- model's own; NULL block: no block band), which operation and why. Written by the
-- operations in macros/deployments/ in the transaction of the change; the roles that score
-- may read it, only the registry's owner writes it.
create table if not exists {{ schema }}.threshold_audit (
    changed_at timestamptz not null default clock_timestamp(),
    model_version text not null,
    role text not null,
    operation text not null,
    was_deployed boolean not null,
    old_threshold float8,
    new_threshold float8,
    old_block_threshold float8,
    new_block_threshold float8,
    reason text not null check (reason <> ''),
    changed_by text not null default current_user,
    session_user_name text not null default session_user
){{ distributed }};

{{ fraud_install_change_log(schema) }}

-- earlier installations returned a composite (ids and probabilities) from a
-- five-argument function, then probabilities alone from a six-argument one, then
-- took the model's bytes from their caller (eight arguments), as did read_model_file
drop function if exists {{ schema }}.score_stack_numpy(bytea, bigint, bytea, text, text);
drop function if exists {{ schema }}.score_stack_keras(bytea, bigint, bytea, text, text);
drop type if exists {{ schema }}.scored_stack;
drop function if exists {{ schema }}.score_stack_numpy(bytea, bigint, bytea, text, text, integer);
drop function if exists {{ schema }}.score_stack_keras(bytea, bigint, bytea, text, text, integer);
drop function if exists {{ schema }}.score_stack_numpy(bytea, bigint, bytea, text, text, text, float8, integer);
drop function if exists {{ schema }}.score_stack_keras(bytea, bigint, bytea, text, text, text, float8, integer);
drop function if exists {{ schema }}.read_model_file(text);
-- the owner's functions, created afresh (dropped first) so that no grant of an
-- earlier installation survives, and revoked from PUBLIC in the same script that
-- creates them: only their owner, through score_stack, calls them
{%- for function in fraud_owner_functions(schema) %}
drop function if exists {{ function }};
{%- endfor %}

{%- for runtime in ['numpy', 'keras'] %}

-- A pure function of its arguments: the stack and the model (bytes, metadata,
-- sha256), which score_stack reads from the registry. No SPI, no files: so it can
-- run where plpy.execute cannot (PostgreSQL parallel workers) and on every
-- Greenplum segment. Its owner's alone: the bytes it parses are a model's,
-- never a caller's. Not STRICT: a NULL model (deleted from the registry after dbt
-- compiled the run) must fail, not silently score nothing.
-- Returns two texts: the stack's probabilities, in stack order, as the text of an
-- integer[] of their float32 bit patterns (one string parsed by array_in is far
-- cheaper than PL/Python's per-element conversion of a returned list, and
-- integers print and parse faster than floats; probability_from_bits turns each
-- back into its exact value; a row with a non-finite feature gets a NaN of its own,
-- the quarantined mark); and the reason codes of the rows at or above reason_threshold,
-- as one JSON object keyed by transaction id (numpy runtime; NULL when there are none).
-- The features SQL packs (the stack contract) are checked against the model's.
-- threads: 0 for every core of the host. model_label names the model in a warning:
-- with fail_on_error false, a problem with the model or the stack (a ScoringError)
-- returns NULL and a WARNING instead of an error.
create function {{ schema }}.score_stack_{{ runtime }}(
    stack bytea, n_rows bigint, model_h5 bytea, model_metadata text, model_sha256 text,
    reason_threshold float8, threads integer, model_label text, fail_on_error boolean
)
returns text []
language plpython3u
immutable{{ fraud_install_parallel_label('safe' if runtime == 'numpy' else 'unsafe') }}
as $fraud_scorer$
{{ _fraud_scoring_import('score_stack_or_warn') }}
try:
    return score_stack_or_warn(
        plpy, SD, model_label, fail_on_error,
        stack, n_rows, model_h5, model_metadata, model_sha256, '{{ runtime }}', threads,
        {{ fraud_quote_literal(fraud_feature_columns() | join(',')) }}, reason_threshold,
        {{ _fraud_scorer_contract() }}
    )
except ScoringError as exc:
    plpy.error('fraud scoring: %s' % exc)
$fraud_scorer$;
revoke all on function {{ schema }}.score_stack_{{ runtime }}(
    bytea, bigint, bytea, text, text, float8, integer, text, boolean
) from public;
{%- endfor %}

-- a model file inside model_dir (the directory a superuser allowed: var
-- fraud_model_dir at install, read by score_stack): (bytes, metadata, sha256).
-- No SPI, so score_stack can call it in a parallel worker; its owner's alone.
create function {{ schema }}.model_file_contents(model_dir text, path text)
returns table (model_h5 bytea, metadata text, sha256 text)
language plpython3u
stable{{ fraud_install_parallel_label('safe') }}
as $fraud_scorer$
{{ _fraud_scoring_import('model_file_contents') }}
try:
    return model_file_contents(model_dir, path)
except ScoringError as exc:
    plpy.error('fraud scoring: %s' % exc)
$fraud_scorer$;
revoke all on function {{ schema }}.model_file_contents(text, text) from public;

-- The entry point of the roles that score (var fraud_scoring_roles): a stack and the
-- NAME of a model, never its bytes. model_ref is a registered version, or
-- 'file:<path>' for a model file inside the directory a superuser allowed. It reads
-- the model itself, as its owner (SECURITY DEFINER, search_path pinned, every name
-- qualified), and hands it to the runtime's scorer, which parses it in a child
-- process under limits after auditing it (fraud_scoring.model_audit). A ScoringError
-- fails the query (fail_on_error) or gives NULL and a WARNING naming the model.
-- PARALLEL SAFE: it reads tables and calls PL/Python without SPI (the numpy scorer
-- runs in parallel workers; the keras one runs TensorFlow in a child process,
-- never in the backend or worker). Greenplum segments read the replicated registry.
create or replace function {{ schema }}.score_stack(
    stack bytea, n_rows bigint, model_ref text, runtime text, reason_threshold float8, threads integer,
    fail_on_error boolean
)
returns text []
language plpgsql
stable security definer{{ fraud_install_parallel_label('safe') }}
-- what a call costs, for the planner: scoring a stack is milliseconds to seconds of work,
-- not the default 100 operators' worth, so a plan that spreads the calls over parallel
-- workers is preferred whenever there are stacks enough
cost 100000
set search_path = pg_catalog, pg_temp
as $fraud_entry$
declare
    found_h5 bytea;
    found_metadata text;
    found_sha256 text;
begin
    if runtime is null or runtime not in ('numpy', 'keras') then
        raise exception 'fraud scoring: unknown runtime %: numpy or keras', coalesce(runtime, 'NULL');
    end if;
    if model_ref like 'file:%' then
        select f.model_h5, f.metadata, f.sha256 into found_h5, found_metadata, found_sha256
        from {{ schema }}.model_file_contents(
            coalesce((select i.version from {{ schema }}.installation as i where i.component = 'model_dir'), ''),
            pg_catalog.substr(model_ref, 6)
        ) as f;
    else
        select m.model_h5, m.metadata::text, m.sha256 into found_h5, found_metadata, found_sha256
        from {{ schema }}.models as m
        where m.model_version = model_ref;
    end if;
    if runtime = 'numpy' then
        return {{ schema }}.score_stack_numpy(
            stack, n_rows, found_h5, found_metadata, found_sha256, reason_threshold, threads,
            coalesce(model_ref, 'NULL'), fail_on_error
        );
    end if;
    return {{ schema }}.score_stack_keras(
        stack, n_rows, found_h5, found_metadata, found_sha256, reason_threshold, threads,
        coalesce(model_ref, 'NULL'), fail_on_error
    );
end
$fraud_entry$;

-- The float32 whose bit pattern is `bits`, as a float8 (exact): sign, exponent
-- and mantissa; 0 and subnormals, infinities and NaN included. A single SQL
-- expression, so the planner inlines it: ~0.1 us a value.
create or replace function {{ schema }}.probability_from_bits(bits integer)
returns double precision
language sql
immutable{{ fraud_install_parallel_label('safe') }}
as $$
    select
        case
            when (bits >> 23) & 255 = 255
                then case when bits & 8388607 = 0 then 'Infinity'::float8 else 'NaN'::float8 end
            else
                (case when (bits >> 23) & 255 = 0 then bits & 8388607 else (bits & 8388607) + 8388608 end)::float8
                * 2::float8 ^ (greatest((bits >> 23) & 255, 1) - 150)
        end
        * case when bits < 0 then -1 else 1 end
$$;

-- A stack's feature values counted in a model's feature reference bins, per day of the data
-- (fraud_feature_bins calls it for the (version, stack) pairs it lacks; docs/monitoring.md):
-- numpy reads the packed stack in place. A pure function of its arguments (no SPI, no
-- files), so it runs in parallel workers and on Greenplum segments; it parses no model.
-- ids, days: the int8 ids (ascending) and int4 days of the stack's id range.
create or replace function {{ schema }}.feature_bin_counts(stack bytea, ids bytea, days bytea, reference text)
returns table (transaction_day integer, feature text, feature_bin smallint, feature_rows bigint)
language plpython3u
immutable strict{{ fraud_install_parallel_label('safe') }}
as $fraud_scorer$
{{ _fraud_scoring_import('feature_bin_counts') }}
try:
    return feature_bin_counts(stack, ids, days, reference)
except ScoringError as exc:
    plpy.error('fraud scoring: %s' % exc)
$fraud_scorer$;

-- what dbt needs to know, at compile time, of a model file (var fraud_model_path)
{{ _fraud_model_file_function(
    schema, 'model_file_info', 'table (model_version text, sha256 text, threshold float8)',
    'model_file_info'
) }}

-- this host's Python and package versions, fraud_scoring's among them (run on every
-- segment by check_fraud_segments)
{{ _fraud_json_function(schema, 'probe_packages') }}

-- this server's fraud_scoring package (version, source hash): recorded by the install
{{ _fraud_json_function(schema, 'scoring_package') }}

-- dbt Python models: their published code and the function that runs it
{{ fraud_python_models_ddl(schema) }}
{%- endmacro %}

{% macro _fraud_model_file_function(schema, name, returns, entry) -%}
create or replace function {{ schema }}.{{ name }}(path text)
returns {{ returns }}
language plpython3u
stable strict{{ fraud_install_parallel_label('unsafe') }}
as $fraud_scorer$
{{ _fraud_scoring_import(entry) }}
try:
    return {{ entry }}(plpy, SD, '{{ schema }}', path)
except ScoringError as exc:
    plpy.error('fraud scoring: %s' % exc)
$fraud_scorer$;
{%- endmacro %}

{% macro _fraud_json_function(schema, name) -%}
create or replace function {{ schema }}.{{ name }}()
returns text
language plpython3u
volatile{{ fraud_install_parallel_label('unsafe') }}
as $fraud_scorer$
{{ _fraud_scoring_import(name) }}
return {{ name }}()
$fraud_scorer$;
{%- endmacro %}

{% macro _fraud_scorer_contract() -%}
    {#- The stack contract as a Python dict literal in the scoring functions' body: what
        fraud_scoring.contract.StackContract.from_mapping reads (JSON of strings and integers). -#}
    {%- set contract = fraud_stack_contract() -%}
    {{ return({
        'features': contract['features'],
        'id_bytes': contract['id_bytes'],
        'feature_bytes': contract['feature_bytes'],
        'quarantined_bits': contract['quarantined_bits'],
    } | tojson) }}
{%- endmacro %}

{% macro _fraud_scoring_import(entry) -%}
{#- The start of every PL/Python body: the scorer is the fraud_scoring package,
    installed into the server's Python (README: How the database gets the scorer).
    Once imported, the import is a dictionary lookup per call. -#}
try:
    from fraud_scoring.udf import ScoringError, {{ entry }}
except ImportError as exc:
    plpy.error(
        'fraud scoring: the Python package fraud_scoring cannot be imported by this server (%s): install it into '
        'the Python the server uses, on every host (`make venv` for the project venv; elsewhere '
        '`pip install --no-deps <checkout>` into the venv on the server\'s PYTHONPATH)' % exc
    )
{%- endmacro %}
