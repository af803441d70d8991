#!/usr/bin/env bash
# Manage the project's own PostgreSQL cluster: a data directory inside the
# checkout, its own port, plpython3u, and the project's venv on the server's
# Python path.  Usage: scripts/db.sh ensure|start|stop|status|psql [args]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
PGDATA="${FRAUD_PGDATA:-$ROOT/.pgdata}"
VENV="${VENV:-$ROOT/.venv}"
LOG="$PGDATA/server.log"

die() { echo "db.sh: $*" >&2; exit 1; }

# Host, port, superuser and database: the dbt profile's `embedded` target (FRAUD_PG_*
# over profiles.yml.example's defaults), read as the Python tools read it, so that
# they are stated in one file. Read when a command needs them (stop needs only PGDATA).
settings() {
    [ -n "${SETTINGS_READ:-}" ] && return 0
    [ -x "$VENV/bin/python" ] || die "no virtual environment at $VENV: run 'make venv' first"
    local assignments
    assignments="$(cd "$ROOT" && "$VENV/bin/python" -m warehouse.connection --shell --target embedded)" \
        || die "cannot read the connection settings from the dbt profile (above)"
    eval "$assignments"
    PGHOST="$FRAUD_DB_HOST" PGPORT="$FRAUD_DB_PORT" PGSUPER="$FRAUD_DB_USER" DBNAME="$FRAUD_DB_NAME"
    SETTINGS_READ=1
}

# PostgreSQL refuses to run as root: as root, the server runs as an
# unprivileged system user; otherwise as whoever runs make.
if [ "$(id -u)" = 0 ]; then
    PGUSER_OS="${FRAUD_PG_OS_USER:-postgres}"
    as_server() { runuser -u "$PGUSER_OS" -- "$@"; }
else
    PGUSER_OS="$(id -un)"
    as_server() { "$@"; }
fi

venv_site() {
    "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

ensure_packages() {
    if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
        missing="postgresql"
    fi
    if ! ls /usr/lib/postgresql/*/lib/plpython3.so >/dev/null 2>&1; then
        missing="${missing:-} postgresql-plpython3-15"
    fi
    [ -z "${missing:-}" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "db.sh: installing Debian packages:${missing}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null; }
        PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    else
        die "PostgreSQL with PL/Python 3 is missing. Run as root: apt-get install -y${missing}"
    fi
}

# The server process must be able to read the venv (and model files): a
# checkout under a mode-700 home directory is invisible to it.
check_readable() {
    local site; site="$(venv_site)"
    if ! as_server test -r "$site/numpy/__init__.py"; then
        die "the PostgreSQL server runs as OS user '$PGUSER_OS', which cannot read $site.
A parent directory of the checkout ($ROOT) is not readable by that user (for example a home directory of mode 700).
Clone the project under a directory '$PGUSER_OS' can read (for example /work or /srv), or run make as the non-root owner of the checkout."
    fi
}

server_env() {
    # Put the venv's packages on the server's Python path; keep TensorFlow quiet
    # and single-process friendly inside backends.
    echo "PYTHONPATH=$(venv_site)" "TF_CPP_MIN_LOG_LEVEL=2" "PYTHONNOUSERSITE=1"
}

is_running() { [ -f "$PGDATA/postmaster.pid" ] && as_server "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

init_cluster() {
    [ -f "$PGDATA/PG_VERSION" ] && return 0
    echo "db.sh: creating cluster in $PGDATA (server user: $PGUSER_OS, port $PGPORT)"
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$PGDATA"
    chmod 700 "$PGDATA"
    as_server "$PGBIN/initdb" -D "$PGDATA" -U "$PGSUPER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    # Loopback only, trust auth: a development cluster. Production roles are
    # described in docs/operating.md, "Roles" (least-privilege analytics role).
    as_server tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF
# --- fraud-scoring project settings ---
listen_addresses = '$PGHOST'
port = $PGPORT
unix_socket_directories = ''
shared_buffers = 256MB
work_mem = 64MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
logging_collector = off
log_min_messages = warning
CONF
}

start() {
    ensure_packages
    settings
    check_readable
    init_cluster
    if ! is_running; then
        as_server env $(server_env) "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LOG" -w -t 60 start >/dev/null \
            || { tail -n 20 "$LOG" >&2; die "server did not start (log: $LOG)"; }
        echo "db.sh: server started on $PGHOST:$PGPORT"
    fi
    psql_super -d postgres -tAc "select 1 from pg_database where datname = '$DBNAME'" | grep -q 1 \
        || psql_super -d postgres -qc "create database $DBNAME"
    psql_super -d "$DBNAME" -qc "create extension if not exists plpython3u" 2>/dev/null \
        || die "cannot create extension plpython3u in database $DBNAME (is postgresql-plpython3 installed? log: $LOG)"
    check_python_match
}

# PL/Python is linked against the system Python; the venv's compiled packages
# (numpy, h5py, tensorflow) only work for the same major.minor.
check_python_match() {
    local server venv
    server="$(psql_super -d "$DBNAME" -tAc "do language plpython3u \$\$ import sys; plpy.notice('%d.%d' % sys.version_info[:2]) \$\$" 2>&1 | sed -n 's/.*NOTICE: *//p' || true)"
    venv="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [ -n "$server" ] || die "could not run PL/Python in the server (see $LOG)"
    if [ "$server" != "$venv" ]; then
        die "Python version mismatch: the server's PL/Python uses Python $server but the venv ($VENV) is Python $venv.
Packages built for $venv cannot load in the server. Recreate the venv with Python $server: make clean-venv venv PYTHON=python$server"
    fi
    psql_super -d "$DBNAME" -tAc "do language plpython3u \$\$ import numpy, h5py \$\$" >/dev/null 2>&1 \
        || die "the server's Python cannot import numpy/h5py from $(venv_site) (see $LOG)"
}

stop() {
    if is_running; then
        as_server "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
        echo "db.sh: server stopped"
    fi
}

psql_super() { settings; "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGSUPER" "$@"; }

case "${1:-}" in
    ensure|start) start ;;
    stop) stop ;;
    status) if is_running; then settings; echo "running on $PGHOST:$PGPORT (data: $PGDATA)"; else echo "stopped"; exit 3; fi ;;
    psql) shift; settings; psql_super -d "$DBNAME" "$@" ;;
    *) die "usage: $0 start|stop|status|psql [args]" ;;
esac
