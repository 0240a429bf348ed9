# Sourced by the benchmark scripts.
#
# server_url DB: the URL `desk` serves the benchmark database with. A server on the same
# host as PostgreSQL reaches it over the Unix socket, as `desk demo`'s own cluster does: no
# TCP loopback, and no TLS that libpq's default `sslmode=prefer` would negotiate with a
# server that has it on (4–10 % of the CPU of a request in the profiles). BENCH_DB_SOCKET
# names the socket directory; empty keeps TCP. An ADMIN_URL of another host is kept as is.
server_url() {
  local db="$1" socket="${BENCH_DB_SOCKET-/var/run/postgresql}"
  local rest="${ADMIN_URL#*://}"
  local user="${rest%%@*}"
  local host="${rest#*@}"; host="${host%%/*}"
  local port="${host##*:}"; host="${host%:*}"
  [[ "$port" =~ ^[0-9]+$ ]] || port=5432
  if [[ "$host" =~ ^(127\.0\.0\.1|localhost|\[::1\])$ ]] && [ -n "$socket" ] \
    && [ -S "$socket/.s.PGSQL.$port" ]; then
    echo "postgres://${user}@${socket//\//%2F}:${port}/${db}"
  else
    echo "${ADMIN_URL%/*}/${db}"
  fi
}

# wait_for_demo LOG PID: waits until `desk demo` says it is serving; if it exits or stays
# silent for a minute, shows its log and stops the benchmark (a port in use, say).
wait_for_demo() {
  local log="$1" pid="$2"
  for _ in $(seq 1 60); do
    grep -q "running at" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  echo "desk demo did not start:" >&2
  cat "$log" >&2
  exit 1
}
