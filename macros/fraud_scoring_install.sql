-- sqlfluff:exclude_rules:LT02
-- (the DDL script holds a PL/Python body, which keeps Python's own indentation)
{#- Install the scoring function and the model registry (superuser: plpython3u is untrusted). -#}

{% macro install_fraud_scoring() -%}
    {%- set schema = fraud_schema() -%}
    {%- set version = fraud_scoring_version() -%}
    {%- do run_query(fraud_scoring_ddl(schema)) -%}
    {#- The one directory model files may be read from (var fraud_model_dir); kept
        as it is unless the var is given, so an automatic upgrade does not reset it. -#}
    {%- set model_dir = var('fraud_model_dir', none) -%}
    {%- if model_dir is not none -%}
        {%- if model_dir != '' and not modules.re.fullmatch('/[A-Za-z0-9._/-]*', model_dir | string) -%}
            {{ exceptions.raise_compiler_error(
                "var fraud_model_dir must be an absolute path of letters, digits, '.', '_', '-' and '/', got "
                ~ (model_dir | string | tojson)
            ) }}
        {%- endif -%}
        {%- do run_query(_fraud_set_installation(schema, 'model_dir', model_dir)) -%}
    {%- endif -%}
    {%- do run_query(fraud_grant_scoring(schema, fraud_scoring_roles())) -%}
    {%- set package = fromjson(run_query('select ' ~ schema ~ '.scoring_package()').rows[0][0]) -%}
    {%- do run_query(_fraud_set_installation(schema, 'fraud_scoring', fraud_package_text(package))) -%}
    {%- do run_query(_fraud_set_installation(schema, 'score_stack', version)) -%}
    {#- the installer deploys the project's Python models too: their code, as reviewed, is
        what a least-privilege role may run (docs/python-models.md) -#}
    {%- do publish_python_models() -%}
    {{ log("installed fraud scoring " ~ version ~ " (package fraud_scoring " ~ fraud_package_text(package)
        ~ ") in schema " ~ schema, info=true) }}
{%- endmacro %}

{% macro fraud_package_text(package) -%}
    {#- How a fraud_scoring package is recorded and compared: '<version> sha256:<source hash>'
        (fraud_scoring.version.describe), from scoring_package() or a probe's fraud_scoring. -#}
    {{ return(package.get('version') ~ ' sha256:' ~ package.get('sha256')) }}
{%- endmacro %}

{% macro _fraud_set_installation(schema, component, value) -%}
    {#- delete + insert, not ON CONFLICT: Greenplum 6 (PostgreSQL 9.4) has no upsert -#}
    delete from {{ schema }}.installation where component = {{ fraud_quote_literal(component) }};
    insert into {{ schema }}.installation (component, version)
    values ({{ fraud_quote_literal(component) }}, {{ fraud_quote_literal(value) }})
{%- endmacro %}

{% macro fraud_scoring_roles() -%}
    {#- var fraud_scoring_roles: the roles that may score (dbt run / dbt test as
        a non-superuser). Everyone else gets nothing: EXECUTE is revoked from PUBLIC. -#}
    {%- set raw = var('fraud_scoring_roles', []) -%}
    {%- set roles = [raw] if raw is string else raw -%}
    {%- set checked = [] -%}
    {%- for role in roles if role -%}
        {%- do checked.append(fraud_identifier(role, 'var fraud_scoring_roles')) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}

{% macro fraud_scoring_functions(schema) -%}
    {#- What the roles in var fraud_scoring_roles may execute: the SECURITY DEFINER entry
        point, which takes a model's name, never its bytes, and functions of no input
        (or of a path checked against the allowed directory) that return no file's content. -#}
    {{ return([
        schema ~ '.score_stack(bytea, bigint, text, text, float8, integer, boolean)',
        schema ~ '.model_file_info(text)',
        schema ~ '.probe_packages()',
        schema ~ '.scoring_package()',
        schema ~ '.probability_from_bits(integer)',
        schema ~ '.run_python_model(text, text)',
    ]) }}
{%- endmacro %}

{% macro fraud_owner_functions(schema) -%}
    {#- The untrusted-language functions that take model bytes or a directory: the
        installer's alone (score_stack calls them as their owner). -#}
    {{ return([
        schema ~ '.score_stack_numpy(bytea, bigint, bytea, text, text, float8, integer, text, boolean)',
        schema ~ '.score_stack_keras(bytea, bigint, bytea, text, text, float8, integer, text, boolean)',
        schema ~ '.model_file_contents(text, text)',
        schema ~ '.publish_python_model(text, text, text)',
    ]) }}
{%- endmacro %}

{% macro fraud_grant_scoring(schema, roles) -%}
    {#- plpython3u is untrusted: its functions run with the server's OS rights. A scoring
        role gets the entry point (score_stack), which reads the model from the registry
        (or the allowed directory) itself, and the harmless helpers; the functions that
        take model bytes are created afresh by every install (fraud_scoring_ddl drops
        them first), so no earlier grant survives, and EXECUTE is revoked from PUBLIC. -#}
    {%- for function in fraud_scoring_functions(schema) + fraud_owner_functions(schema) %}
    revoke all on function {{ function }} from public;
    {%- endfor %}
    {%- for role in roles %}
    grant usage on schema {{ schema }} to {{ role }};
    grant select on {{ schema }}.models, {{ schema }}.installation, {{ schema }}.deployments,
        {{ schema }}.deployment_history, {{ schema }}.python_models to {{ role }};
    {{ fraud_install_platform_grants(schema, role) }}
        {%- for function in fraud_scoring_functions(schema) %}
    grant execute on function {{ function }} to {{ role }};
        {%- endfor %}
    {%- endfor %}
    select 1
{%- endmacro %}

{% macro fraud_scoring_version() -%}
    {#- Changes whenever the DDL changes (the function bodies, the stack contract rendered
        into them, the tables), so an outdated installation is detected. The scorer's own
        code is the installed fraud_scoring package: the install records its version and
        source hash, and check_fraud_segments compares every segment's with it. -#}
    {{ return(local_md5(fraud_scoring_ddl('x'))[:12]) }}
{%- endmacro %}

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
-- macros/fraud_deployments.sql (promote, add a challenger, retire, roll back, set a
-- threshold), never by registering a model. threshold: NULL for the model's own.
create table if not exists {{ schema }}.deployments (
    model_version text primary key,
    role text not null check (role in ('champion', 'challenger')),
    threshold float8 check (threshold > 0 and threshold < 1),
    changed_at timestamptz not null default clock_timestamp(),
    changed_by text not null default current_user
){{ distributed }};
{{ fraud_install_one_champion_index(schema) }}

-- every change to deployments, appended: what roll back reads, and the audit trail
create table if not exists {{ schema }}.deployment_history (
    changed_at timestamptz not null default clock_timestamp(),
    model_version text not null,
    role text not null check (role in ('champion', 'challenger', 'retired')),
    threshold float8,
    changed_by text not null default current_user
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

{% macro fraud_scoring_on_run_start() -%}
    {#- Install when we may (a superuser) and must (missing or outdated);
        otherwise fail with the command an administrator has to run. -#}
    {%- if execute -%}
        {%- set schema = fraud_schema() -%}
        {%- set expected = fraud_scoring_version() -%}
        {%- set is_superuser = run_query("select rolsuper from pg_roles where rolname = current_user").rows[0][0] -%}
        {%- set installed = none -%}
        {%- if run_query("select to_regclass('" ~ schema ~ ".installation') is not null").rows[0][0] -%}
            {%- set found = run_query(
                "select version from " ~ schema ~ ".installation where component = 'score_stack'"
            ).rows -%}
            {%- set installed = found[0][0] if found | length else none -%}
        {%- endif -%}
        {%- if installed != expected -%}
            {%- if is_superuser -%}
                {%- do install_fraud_scoring() -%}
            {%- else -%}
                {%- set state = "missing" if installed is none
                    else "outdated (installed " ~ installed ~ ", this project needs " ~ expected ~ ")" -%}
                {{ exceptions.raise_compiler_error(
                    "fraud scoring functions in schema " ~ schema ~ " are " ~ state
                    ~ ": ask a database superuser to run `dbt run-operation install_fraud_scoring`"
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- The install's platform differences: each dispatches to macros/platforms/<platform>.sql. -#}

{% macro fraud_install_table_distribution() -%}
    {#- how the registry's small tables are spread: '' or ' distributed replicated' -#}
    {{ return(fraud_dispatch('fraud_install_table_distribution')()) }}
{%- endmacro %}

{% macro fraud_install_parallel_label(label) -%}
    {#- a function's PARALLEL label ('safe' / 'unsafe'), where the platform has them -#}
    {{ return(fraud_dispatch('fraud_install_parallel_label')(label)) }}
{%- endmacro %}

{% macro fraud_install_placement_keys(schema) -%}
    {#- the table of placement keys stacking gives batches (Greenplum) -#}
    {{ return(fraud_dispatch('fraud_install_placement_keys')(schema)) }}
{%- endmacro %}

{% macro fraud_install_one_champion_index(schema) -%}
    {#- at most one champion, enforced by the database where it can -#}
    {{ return(fraud_dispatch('fraud_install_one_champion_index')(schema)) }}
{%- endmacro %}

{% macro fraud_install_change_log(schema) -%}
    {#- the change log of the raw table's rows and its trigger function (PostgreSQL) -#}
    {{ return(fraud_dispatch('fraud_install_change_log')(schema)) }}
{%- endmacro %}

{% macro fraud_install_platform_grants(schema, role) -%}
    {#- what a scoring role may read beyond the registry: the platform's own tables -#}
    {{ return(fraud_dispatch('fraud_install_platform_grants')(schema, role)) }}
{%- endmacro %}
