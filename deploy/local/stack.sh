#!/usr/bin/env bash
# The local stack without Docker: Apache Kafka (KRaft, one node, jars from Maven Central) and
# PostgreSQL 15 (Debian's binaries, a cluster owned by this project).
#
#   deploy/local/stack.sh install   install Java, Maven and PostgreSQL when missing; resolve Kafka jars
#   deploy/local/stack.sh start     install, then start both servers and wait until they answer
#   deploy/local/stack.sh stop      stop both servers
#   deploy/local/stack.sh status    print what runs where
#   deploy/local/stack.sh env       print the PERPWATCH_* variables that point at this stack
#   deploy/local/stack.sh start-kafka|stop-kafka|start-postgres|stop-postgres
#                                   one server alone (fault tests stop the broker mid-stream)
#
# Every command is idempotent. `make up`, the test fixtures and .ci/run all come through here.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${PERPWATCH_STATE_DIR:-$REPO_ROOT/.state}"
KAFKA_PORT="${PERPWATCH_LOCAL_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${PERPWATCH_LOCAL_CONTROLLER_PORT:-9093}"
PG_PORT="${PERPWATCH_LOCAL_PG_PORT:-15432}"
KAFKA_HEAP="${PERPWATCH_LOCAL_KAFKA_HEAP:--Xms256m -Xmx768m}"
PG_BIN="${PERPWATCH_PG_BIN:-/usr/lib/postgresql/15/bin}"
START_TIMEOUT_S="${PERPWATCH_LOCAL_START_TIMEOUT_S:-90}"

KAFKA_DIR="$STATE_DIR/kafka"
# A second stack (fault tests) may share the first one's resolved jars.
KAFKA_LIBS="${PERPWATCH_LOCAL_KAFKA_LIBS:-$KAFKA_DIR/libs}"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
POM="$REPO_ROOT/deploy/local/kafka/pom.xml"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $EUID -eq 0 ]]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  is_root || die "missing $* and not root: install them (Debian: apt-get install $*)"
  log "apt-get install $*"
  if [[ ! -f "$STATE_DIR/.apt-updated" ]]; then
    apt-get update -qq
    mkdir -p "$STATE_DIR" && touch "$STATE_DIR/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL -------------------------------------------------------------------------------

# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user. Its
# data directory must then be reachable by that user; a checkout under /root is not.
pg_dir() {
  if [[ -n "${PERPWATCH_LOCAL_PG_DIR:-}" ]]; then
    echo "$PERPWATCH_LOCAL_PG_DIR"
  elif ! is_root || runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null; then
    echo "$STATE_DIR/postgres"
  else
    echo "/var/tmp/perpwatch-$(printf '%s' "$STATE_DIR" | sha1sum | cut -c1-12)/postgres"
  fi
}

as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_install() {
  [[ -x "$PG_BIN/postgres" ]] || apt_install postgresql-15 postgresql-client-15
  [[ -x "$PG_BIN/postgres" ]] || die "PostgreSQL 15 binaries not found in $PG_BIN"
}

pg_start() {
  local dir data sock
  dir="$(pg_dir)"; data="$dir/data"; sock="$dir/run"
  if as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "postgres already running on 127.0.0.1:$PG_PORT ($data)"
    return
  fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "initdb $data"
    mkdir -p "$dir"
    is_root && chown -R postgres:postgres "$dir"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { tail -20 "$dir/initdb.log" >&2; die "initdb failed"; }
    # A disposable development cluster: durability settings are traded for test speed.
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
EOF
  fi
  as_pg mkdir -p "$sock"
  local t0=$SECONDS
  if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t "$START_TIMEOUT_S" start >/dev/null; then
    tail -30 "$dir/postgres.log" >&2
    die "postgres did not start (log: $dir/postgres.log)"
  fi
  # Role and database are (re)asserted on every start, so a half-finished first start heals.
  as_pg "$PG_BIN/psql" -h "$sock" -p "$PG_PORT" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'perpwatch') THEN
    CREATE ROLE perpwatch LOGIN CREATEDB PASSWORD 'perpwatch';
  END IF;
END $$;
SELECT 'CREATE DATABASE perpwatch OWNER perpwatch'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'perpwatch') \gexec
SQL
  log "postgres up on 127.0.0.1:$PG_PORT in $((SECONDS - t0))s ($data)"
}

pg_stop() {
  local data; data="$(pg_dir)/data"
  if [[ -f "$data/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    log "postgres stopped"
  fi
}

# --- Kafka ------------------------------------------------------------------------------------

kafka_install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  local stamp="$KAFKA_LIBS/.pom.sha1" want
  want="$(sha1sum "$POM" | cut -c1-40)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  log "resolving Kafka jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  # Maven -q still prints bare colour resets on some versions; strip escape codes from its output.
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
    die "Maven could not resolve the Kafka jars (see above)"
  fi
  echo "$want" >"$stamp"
}

# The JVM command line shared by the storage tool and the broker.
kafka_java() {
  # shellcheck disable=SC2086 # KAFKA_HEAP holds several JVM flags on purpose
  KAFKA_JAVA=(java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$REPO_ROOT/deploy/local/kafka/log4j2.properties"
    -cp "$KAFKA_LIBS/*")
}

kafka_running() { [[ -f "$KAFKA_PID" ]] && kill -0 "$(cat "$KAFKA_PID")" 2>/dev/null; }

kafka_start() {
  if kafka_running; then
    log "kafka already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$KAFKA_PID"))"
    return
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process; set PERPWATCH_LOCAL_KAFKA_PORT"
  local props="$KAFKA_DIR/server.properties" data="$KAFKA_DIR/data"
  kafka_java
  mkdir -p "$data"
  sed -e "s|@@KAFKA_PORT@@|$KAFKA_PORT|g" -e "s|@@CONTROLLER_PORT@@|$CONTROLLER_PORT|g" \
    -e "s|@@DATA_DIR@@|$data|g" "$REPO_ROOT/deploy/local/kafka/server.properties.template" >"$props"
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$props" \
      >"$KAFKA_DIR/format.log" 2>&1 || { cat "$KAFKA_DIR/format.log" >&2; die "kafka storage format failed"; }
  fi
  local t0=$SECONDS
  # setsid: a Ctrl-C in the terminal that started the stack must not kill the broker mid-write;
  # `stack.sh stop` shuts it down in order.
  setsid "${KAFKA_JAVA[@]}" kafka.Kafka "$props" >"$KAFKA_LOG" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID"
  # The port opens before the broker is registered; the log line is the real readiness signal.
  until grep -q "Kafka Server started" "$KAFKA_LOG" 2>/dev/null; do
    if ! kafka_running; then
      tail -30 "$KAFKA_LOG" >&2
      die "kafka exited during start (log: $KAFKA_LOG)"
    fi
    if ((SECONDS - t0 > START_TIMEOUT_S)); then
      tail -30 "$KAFKA_LOG" >&2
      die "kafka did not start within ${START_TIMEOUT_S}s (log: $KAFKA_LOG)"
    fi
    sleep 0.2
  done
  log "kafka up on 127.0.0.1:$KAFKA_PORT in $((SECONDS - t0))s (log: $KAFKA_LOG)"
}

kafka_stop() {
  if kafka_running; then
    local pid; pid="$(cat "$KAFKA_PID")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    log "kafka stopped"
  fi
  rm -f "$KAFKA_PID"
}

print_env() {
  echo "PERPWATCH_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  echo "PERPWATCH_DATABASE_URL=postgresql://perpwatch:perpwatch@127.0.0.1:$PG_PORT/perpwatch"
}

status() {
  local rc=0
  if kafka_running; then echo "kafka     up    127.0.0.1:$KAFKA_PORT pid $(cat "$KAFKA_PID")"; else echo "kafka     down"; rc=1; fi
  local data; data="$(pg_dir)/data"
  if [[ -f "$data/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "postgres  up    127.0.0.1:$PG_PORT data $data"
  else
    echo "postgres  down"; rc=1
  fi
  return $rc
}

main() {
  mkdir -p "$STATE_DIR" "$KAFKA_DIR"
  case "${1:-}" in
    install) pg_install; kafka_install ;;
    start) pg_install; kafka_install; pg_start; kafka_start ;;
    stop) kafka_stop; pg_stop ;;
    status) status ;;
    env) print_env ;;
    start-kafka) kafka_install; kafka_start ;;
    stop-kafka) kafka_stop ;;
    start-postgres) pg_install; pg_start ;;
    stop-postgres) pg_stop ;;
    *) echo "usage: $0 install|start|stop|status|env|start-kafka|stop-kafka|start-postgres|stop-postgres" >&2; exit 2 ;;
  esac
}

main "$@"
