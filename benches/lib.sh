# shellcheck shell=bash
# The helpers the comparison scripts share, written once: sourced by benches/compare,
# compare-shipper, compare-varnishlog, compare-auditor and record-capture (and by
# fuzz/seed-corpora for the fixture lookup). It defines functions and three variables only;
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
