{#- dbt run-operation check_fraud_segments: can every segment (or the one server) score? Per
    platform: <platform>__fraud_probe_sql in macros/platforms/postgres.sql and greenplum.sql.
    -#}

{% macro check_fraud_segments(runtime=none, probes=none, recorded=none) -%}
    {#- dbt run-operation check_fraud_segments [--args '{runtime: keras}']
        Runs probe_packages() on every segment (Greenplum / Cloudberry: through
        gp_dist_random, which executes on each primary segment) or on the one
        server (PostgreSQL), prints per segment its Python and package versions,
        its fraud_scoring (version and source hash), cores, numpy's BLAS and the
        threads each scoring call will use, warns about a BLAS that is not an
        optimized one, and fails when a segment lacks what the runtime needs or
        holds another fraud_scoring than the one the install recorded. probes:
        rows of [segment, probe JSON] to report on instead of querying, and
        recorded: the install's fraud_scoring text (for tests). -#}
    {%- set runtime = runtime or fraud_scoring_runtime() -%}
    {%- if probes is none -%}
        {%- set schema = fraud_schema() -%}
        {%- set probes = run_query(fraud_dispatch('fraud_probe_sql')(schema)).rows -%}
        {%- set found = run_query(
            "select version from " ~ schema ~ ".installation where component = 'fraud_scoring'"
        ).rows -%}
        {%- set recorded = found[0][0] if found | length else none -%}
    {%- endif -%}
    {%- set report = _fraud_probe_report(probes, runtime, var('fraud_scoring_threads', none), recorded) -%}
    {%- for line in report['lines'] -%}
        {{ log(line, info=true) }}
    {%- endfor -%}
    {%- for line in report['warnings'] -%}
        {{ log('WARNING: ' ~ line, info=true) }}
    {%- endfor -%}
    {%- if report['problems'] -%}
        {{ exceptions.raise_compiler_error(
            "fraud scoring with runtime " ~ runtime ~ " cannot run everywhere: " ~ (report['problems'] | join('; '))
        ) }}
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_probe_report(probes, runtime, threads=none, recorded=none) -%}
    {#- Parse probe rows [segment, JSON] into {lines, warnings, problems}: each
        segment's Python, packages, cores, BLAS and scoring threads; what is missing
        for the runtime; Python versions that differ between segments (packages built
        for one do not load in another); a BLAS threadpoolctl does not know (the
        reference BLAS: 2M rows scored in 40.1 s instead of 7.9 s on Greenplum 7).
        threads: var fraud_scoring_threads (none: the default, the host's cores
        shared by its segments; 0: every core). recorded: the fraud_scoring the install
        recorded ('<version> sha256:<hash>'); a segment whose probe names another is a
        problem (its scorer is other code than the one installed). -#}
    {%- set needed = {'numpy': ['numpy', 'h5py'], 'keras': ['numpy', 'h5py', 'keras', 'tensorflow']}[runtime] -%}
    {%- set lines, warnings, problems, pythons = [], [], [], [] -%}
    {%- if probes | length == 0 -%}
        {%- do problems.append('the probe returned no rows (no segments?)') -%}
    {%- endif -%}
    {%- set parsed, per_host = [], {} -%}
    {%- for row in probes -%}
        {%- set probe = fromjson(row[1] | string, none) -%}
        {%- do parsed.append([row, probe]) -%}
        {%- if probe is mapping -%}
            {%- do per_host.update({probe.get('host', '?'): per_host.get(probe.get('host', '?'), 0) + 1}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for row, probe in parsed -%}
        {%- set segment = 'server' if (row[0] | int) < 0 else 'segment ' ~ row[0] -%}
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
            {%- set host = probe.get('host', '?') -%}
            {%- set line = segment ~ ' (' ~ host ~ '): python ' ~ python ~ ', ' ~ (versions | join(', ')) -%}
            {%- set package = probe.get('fraud_scoring') -%}
            {%- set package = fraud_package_text(package) if package is mapping else none -%}
            {%- if package is not none -%}
                {%- set line = line ~ '; fraud_scoring ' ~ package -%}
            {%- endif -%}
            {%- if recorded and package != recorded -%}
                {%- do problems.append(segment ~ ': fraud_scoring ' ~ (package or 'unknown')
                    ~ ' differs from the one recorded at install (' ~ recorded ~ '): install the same fraud_scoring'
                    ~ ' on every host, then run `dbt run-operation install_fraud_scoring`') -%}
            {%- endif -%}
            {%- if probe.get('cores') -%}
                {%- set cores = probe['cores'] | int -%}
                {%- set sharing = per_host[host] if (row[0] | int) >= 0 else 1 -%}
                {%- if threads is not none and threads != '' and (threads | int) > 0 -%}
                    {%- set used = (threads | int) ~ ' (var fraud_scoring_threads)' -%}
                {%- elif threads is not none and threads != '' -%}
                    {%- set used = cores ~ ' (var fraud_scoring_threads = 0: every core)' -%}
                {%- else -%}
                    {%- set used = [1, cores // sharing] | max ~ ' (' ~ cores ~ ' cores / ' ~ sharing
                        ~ (' segments' if sharing > 1 else ' segment') ~ ' on this host)' -%}
                {%- endif -%}
                {%- set line = line ~ '; ' ~ cores ~ ' cores, scoring threads ' ~ used -%}
            {%- endif -%}
            {%- set blas = probe.get('blas', none) -%}
            {%- if blas is none -%}
                {%- set line = line ~ '; BLAS unknown (no threadpoolctl: set OPENBLAS_NUM_THREADS=1 in the server environment)' -%}
            {%- elif blas | length == 0 -%}
                {%- set line = line ~ '; BLAS: none optimized' -%}
                {%- do warnings.append(segment ~ ': numpy uses no optimized BLAS (the reference BLAS?): scoring was 5x slower'
                    ~ ' with it; install numpy from PyPI wheels (OpenBLAS) for the segments\' Python') -%}
            {%- else -%}
                {%- set names = [] -%}
                {%- for library in blas -%}
                    {%- do names.append(library.get('library') ~ ' ' ~ library.get('version')) -%}
                {%- endfor -%}
                {%- set line = line ~ '; BLAS ' ~ (names | join(', ')) ~ ', one thread per scoring thread' -%}
            {%- endif -%}
            {%- do lines.append(line) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if pythons | unique | list | length > 1 -%}
        {%- do problems.append('segments run different Python versions: ' ~ (pythons | unique | sort | join(', '))) -%}
    {%- endif -%}
    {{ return({'lines': lines, 'warnings': warnings, 'problems': problems}) }}
{%- endmacro %}
