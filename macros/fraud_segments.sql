{#- Which engine are we on, where do batches live, and can every segment score. -#}

{% macro fraud_engine_kind() -%}
    {#- 'postgres' or 'greenplum' (Greenplum 6/7, Apache Cloudberry): var
        fraud_engine_dispatch forces it, otherwise version() decides. -#}
    {%- set forced = var('fraud_engine_dispatch', none) -%}
    {%- if forced is not none and forced != '' -%}
        {%- if forced not in ['postgres', 'greenplum'] -%}
            {{ exceptions.raise_compiler_error(
                "var fraud_engine_dispatch must be 'postgres' or 'greenplum', got " ~ (forced | string | tojson)
            ) }}
        {%- endif -%}
        {{ return(forced) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('postgres') }}
    {%- endif -%}
    {%- set version = run_query('select version()').rows[0][0] | lower -%}
    {{ return('greenplum' if ('greenplum' in version or 'cloudberry' in version) else 'postgres') }}
{%- endmacro %}

{% macro fraud_distribute_stacks(relation=none) -%}
    {#- A post-hook of int_credit_card__scoring_stacks; empty except on Greenplum /
        Cloudberry, where it distributes the stacks by batch_id (once: after that,
        new stacks land on their batch's segment) and analyzes them. Every segment
        then scores its own stacks, and a rescore moves no feature at all. -#}
    {%- if fraud_engine_kind() == 'greenplum' -%}
        {%- set relation = relation or this -%}
        {%- set table = relation.schema ~ '.' ~ relation.identifier -%}
        do $$
        begin
            if pg_get_table_distributedby('{{ table }}'::regclass) is distinct from 'DISTRIBUTED BY (batch_id)' then
                alter table {{ table }} set distributed by (batch_id);
            end if;
        end
        $$;
        analyze {{ table }}
    {%- endif -%}
{%- endmacro %}

{% macro check_fraud_segments(engine=none, probes=none) -%}
    {#- dbt run-operation check_fraud_segments [--args '{engine: keras}']
        Runs probe_packages() on every segment (Greenplum / Cloudberry: through
        gp_dist_random, which executes on each primary segment) or on the one
        server (PostgreSQL), prints Python and package versions per segment, and
        fails when a segment lacks what the engine needs. probes: rows of
        [segment, probe JSON] to report on instead of querying (for tests). -#}
    {%- set engine = engine or fraud_engine() -%}
    {%- if probes is none -%}
        {%- set schema = fraud_schema() -%}
        {%- if fraud_engine_kind() == 'greenplum' -%}
            {%- set sql = "select gp_segment_id, " ~ schema ~ ".probe_packages() from gp_dist_random('gp_id') order by 1" -%}
        {%- else -%}
            {%- set sql = "select -1, " ~ schema ~ ".probe_packages()" -%}
        {%- endif -%}
        {%- set probes = run_query(sql).rows -%}
    {%- endif -%}
    {%- set report = fraud_probe_report(probes, engine) -%}
    {%- for line in report['lines'] -%}
        {{ log(line, info=true) }}
    {%- endfor -%}
    {%- if report['problems'] -%}
        {{ exceptions.raise_compiler_error(
            "fraud scoring with engine " ~ engine ~ " cannot run everywhere: " ~ (report['problems'] | join('; '))
        ) }}
    {%- endif -%}
{%- endmacro %}

{% macro fraud_probe_report(probes, engine) -%}
    {#- Parse probe rows [segment, JSON] into {lines, problems}: each segment's
        Python and packages, what is missing for the engine, and Python versions
        that differ between segments (packages built for one do not load in another). -#}
    {%- set needed = {'numpy': ['numpy', 'h5py'], 'keras': ['numpy', 'h5py', 'keras', 'tensorflow']}[engine] -%}
    {%- set lines, problems, pythons = [], [], [] -%}
    {%- if probes | length == 0 -%}
        {%- do problems.append('the probe returned no rows (no segments?)') -%}
    {%- endif -%}
    {%- for row in probes -%}
        {%- set segment = 'server' if (row[0] | int) < 0 else 'segment ' ~ row[0] -%}
        {%- set probe = fromjson(row[1] | string, none) -%}
        {%- if probe is not mapping or probe.get('packages') is not mapping -%}
            {%- do problems.append(segment ~ ': unreadable probe output ' ~ (row[1] | string | truncate(80) | tojson)) -%}
        {%- else -%}
            {%- set python = probe.get('python') | string -%}
            {%- do pythons.append(python.split('.')[:2] | join('.')) -%}
            {%- set versions = [] -%}
            {%- for name, version in probe['packages'] | dictsort -%}
                {%- do versions.append(name ~ ' ' ~ (version or 'missing')) -%}
                {%- if name in needed and not version -%}
                    {%- do problems.append(segment ~ ': ' ~ name ~ ' is missing') -%}
                {%- endif -%}
            {%- endfor -%}
            {%- for name in needed if name not in probe['packages'] -%}
                {%- do problems.append(segment ~ ': ' ~ name ~ ' is missing') -%}
            {%- endfor -%}
            {%- set where = segment ~ ' (' ~ probe.get('host', '?') ~ ')' -%}
            {%- do lines.append(where ~ ': python ' ~ python ~ ', ' ~ (versions | join(', '))) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if pythons | unique | list | length > 1 -%}
        {%- do problems.append('segments run different Python versions: ' ~ (pythons | unique | sort | join(', '))) -%}
    {%- endif -%}
    {{ return({'lines': lines, 'problems': problems}) }}
{%- endmacro %}
