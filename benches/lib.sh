# shellcheck shell=bash
# The helpers the comparison scripts share, written once: sourced by benches/compare,
# compare-shipper, compare-spool, compare-varnishlog, compare-auditor and record-capture (and by
# fuzz/seed-corpora for the fixture lookup). It defines functions and five variables only;
# sourcing it runs nothing.
#
# CPU time is measured one way everywhere (`measure`): user + system time of the command's
# process and of every child it waited for, all threads, as the kernel accounts them to the
# parent that reaps it (wait4's rusage), with the peak resident memory. Wall time is never
# used: on a shared machine it measures the neighbours.
#
#   median VALUE...            the median (the lower middle of an even count)
#   ratio A B [DIGITS]         A / B with DIGITS decimals (default 2); "inf" when B is 0
#   measure OUT ERR COMMAND... run COMMAND (stdin /dev/null, stdout to OUT, stderr to ERR);
#                              prints "CPU_SECONDS PEAK_KIB EXIT_STATUS"
#   cpu_seconds ERR COMMAND... CPU seconds of COMMAND, its output discarded, its standard
#                              error in ERR; the script stops when COMMAND fails
#   free_port                  a loopback TCP port the kernel just handed out as free
#   fixtures_dir               the shared fixture configurations, looked for as
#                              edgeship-testkit does
#   fixture_value FILE KEY     the last uncommented `KEY = value` of a fixture (KEY is a
#                              sed pattern)
#   results_append TITLE TEXT  TEXT as a new run at the end of section "## TITLE" of
#                              benches/RESULTS.md, with the date, machine and commit
#   start_tansu DIR            a private tansu broker (memory storage) on a free loopback port,
#                              its log in DIR/tansu.log; sets tansu_pid and kafka_brokers
#                              (stop_tansu ends it: call it from the script's exit trap)
#   new_topic NAME             a fresh topic (3 partitions) on that broker; prints its name
#   delete_topic TOPIC         deletes it (the broker keeps every record in memory)
#   edgeship_config FILE OUTPUT FORMAT TOPIC [EXTRA]
#                              an edgeship configuration with the production fixture's Kafka
#                              settings (EXTRA: more lines, which win over those before)
#   edgeship_counts ERR        "RENDERED PRODUCED DELIVERED" from edgeship's closing log line
#                              in ERR; the script stops when there is none
#   paired_ratio A B           "MEDIAN LOWEST HIGHEST" of B[i] / A[i], from two lists of
#                              samples taken in pairs (A[i] next to B[i], in one run)
#   duckdb_python              a python that has duckdb (a venv under the target directory)
#   audit_records N            N generated auditor records (the gen-records example), made once
#   log MESSAGE...             "script: MESSAGE" on standard error
#   die MESSAGE...             log, then exit 1

# The checkout this file belongs to, and cargo's target directory.
bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_target="${CARGO_TARGET_DIR:-$bench_root/target}"
bench_script="$(basename "$0")"

log() { printf '%s: %s\n' "$bench_script" "$*" >&2; }
die() { log "$@"; exit 1; }

median() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ratio() {
  awk -v a="$1" -v b="$2" -v digits="${3:-2}" \
    'BEGIN { if (b > 0) printf "%." digits "f\n", a / b; else print "inf" }'
}

measure() {
  python3 - "$@" <<'PY'
import os, sys

out, err, *command = sys.argv[1:]
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        os.write(2, f"{command[0]}: {error}\n".encode())
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(f"{usage.ru_utime + usage.ru_stime:.3f} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
PY
}

cpu_seconds() {
  local err="$1" seconds peak status
  shift
  read -r seconds peak status < <(measure /dev/null "$err" "$@")
  if [ "$status" != 0 ]; then
    log "failed (exit status $status): $*"
    cat "$err" >&2
    exit 1
  fi
  echo "$seconds"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# As edgeship-testkit's `fixtures` module: $EDGESHIP_FIXTURES, else shared/ beside the checkout.
fixtures_dir() {
  if [ -n "${EDGESHIP_FIXTURES:-}" ]; then
    [ -d "$EDGESHIP_FIXTURES" ] || die "EDGESHIP_FIXTURES=$EDGESHIP_FIXTURES is not a directory"
    echo "$EDGESHIP_FIXTURES"
    return
  fi
  local beside
  beside="$(dirname "$bench_root")/shared/fixtures/conf"
  [ -d "$beside" ] || die "no fixture configurations at $beside (the shared/ folder beside the" \
    "checkout): set EDGESHIP_FIXTURES to the directory that holds them (shared/fixtures/conf)"
  echo "$beside"
}

fixture_value() {
  local dir
  dir="$(fixtures_dir)" || exit 1
  [ -f "$dir/$1" ] || die "no fixture $dir/$1"
  sed -n "s/^$2 = //p" "$dir/$1" | tail -n 1
}

# One line about where a run was made: the kernel, the CPU and the commit (with "+changes"
# when the working tree differs from it), so results from different machines are not compared.
machine_line() {
  local commit
  if commit="$(git -C "$bench_root" rev-parse --short HEAD 2>/dev/null)"; then
    git -C "$bench_root" diff --quiet HEAD -- . ':(exclude)benches/RESULTS.md' || commit+="+changes"
  else
    commit="unknown (not a git checkout)"
  fi
  printf 'machine: `%s`; CPU: %s (%s cores); commit %s\n' "$(uname -a)" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(nproc)" "$commit"
}

# EDGESHIP_BENCH_NO_RESULTS=1 leaves the file alone (the report is printed by the caller).
results_append() {
  local title="## $1" report="$2" results="$bench_root/benches/RESULTS.md" run
  [ "${EDGESHIP_BENCH_NO_RESULTS:-0}" != 1 ] || return 0
  if [ ! -f "$results" ]; then
    printf '# Benchmark results\n\nEach section is written by the script named in it; newest runs last.\n' >"$results"
  fi
  grep -qxF "$title" "$results" || printf '\n%s\n' "$title" >>"$results"
  run="$(mktemp)"
  {
    printf '\n### %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    machine_line
    printf '\n%s\n' "$report"
  } >"$run"
  # Keep each script's section together: the new run goes at the end of its section.
  awk -v new="$run" -v title="$title" '
    /^## / { if (in_section) { while ((getline line < new) > 0) print line; print ""; done = 1 } in_section = ($0 == title) }
    { print }
    END { if (!done) while ((getline line < new) > 0) print line }
  ' "$results" >"$run.all"
  mv "$run.all" "$results"
  rm -f "$run"
  log "results appended to $results"
}

# The tansu the scripts start: $EDGESHIP_TANSU, else the one scripts/setup installed.
tansu_binary() {
  local tansu="${EDGESHIP_TANSU:-${EDGESHIP_TOOLS:-$HOME/.cache/edgeship-tools}/bin/tansu}"
  [ -x "$tansu" ] || die "tansu not found at $tansu (run scripts/setup)"
  echo "$tansu"
}

tansu_pid=""
kafka_brokers=""
start_tansu() {
  local tansu port
  tansu="$(tansu_binary)" || exit 1
  port="$(free_port)"
  kafka_brokers="127.0.0.1:$port"
  "$tansu" broker --listener-url "tcp://$kafka_brokers" --advertised-listener-url "tcp://$kafka_brokers" \
    --storage-engine memory://tansu/ --cluster-id edgeship-bench >"$1/tansu.log" 2>&1 &
  tansu_pid=$!
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "tansu did not listen on $kafka_brokers within 30 s (log: $1/tansu.log)"
}

# Only the broker this script started, by its id.
stop_tansu() {
  if [ -n "$tansu_pid" ]; then
    kill -TERM "$tansu_pid" 2>/dev/null || true
    wait "$tansu_pid" 2>/dev/null || true
    tansu_pid=""
  fi
}

# Usually run in a subshell, so the name is made unique from the clock.
new_topic() {
  local topic
  topic="bench-$1-$(date +%s%N)"
  "$(tansu_binary)" topic create "$topic" --broker "tcp://$kafka_brokers" --partitions 3 >/dev/null
  echo "$topic"
}

delete_topic() {
  "$(tansu_binary)" topic delete "$1" --broker "tcp://$kafka_brokers" >/dev/null 2>&1 || true
}

# Output and format vary; everything else is the production file's Kafka settings.
edgeship_config() { # file output format topic [extra lines]
  cat >"$1" <<EOF
output = $2
format.type = json
format = $3
sequence.number = 0
log.level = 6
log.stderr = true
log.syslog = false
daemonize = false
edgeship.hostname = cp1001
kafka.metadata.broker.list = ${kafka_brokers:-127.0.0.1:9}
kafka.topic = $4
kafka.partition = -1
kafka.queue.buffering.max.messages = 720000
kafka.queue.buffering.max.ms = 1000
kafka.batch.num.messages = 9000
kafka.request.timeout.ms = 2000
kafka.topic.request.required.acks = all
kafka.topic.message.timeout.ms = 300000
kafka.compression.codec = snappy
${5:-}
EOF
}

edgeship_counts() {
  local line
  line="$(grep 'stopped:' "$1" || true)"
  [ -n "$line" ] || { log "edgeship did not finish cleanly:"; cat "$1" >&2; exit 1; }
  sed -n 's/.*stopped: \([0-9]*\) records rendered, \([0-9]*\) produced, \([0-9]*\) delivered.*/\1 \2 \3/p' <<<"$line"
}

paired_ratio() {
  python3 - "$1" "$2" <<'PY'
import statistics, sys
a, b = (list(map(float, words.split())) for words in sys.argv[1:3])
assert len(a) == len(b) and a, "paired_ratio needs two lists of samples of one length"
ratios = sorted(y / x for x, y in zip(a, b) if x > 0)
print(f"{statistics.median_low(ratios):.3f} {ratios[0]:.3f} {ratios[-1]:.3f}")
PY
}

duckdb_python() {
  local venv="$bench_target/bench-venv"
  if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    log "installing duckdb into $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet duckdb >&2
  fi
  echo "$venv/bin/python"
}

audit_records() {
  local data="$bench_target/bench-data/audit-records-$1.json"
  if [ ! -s "$data" ]; then
    (cd "$bench_root" && cargo build --quiet --release -p edgeship-audit --example gen-records) >&2
    mkdir -p "$(dirname "$data")"
    "$bench_target/release/examples/gen-records" "$data.tmp" "$1" >&2
    mv "$data.tmp" "$data"
  fi
  echo "$data"
}
