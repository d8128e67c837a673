#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fuzz/run.sh - build the libFuzzer targets with clang and run each for a
# bounded time. Not part of CI (too slow); CI runs meson test --suite
# fuzz-replay, which replays fuzz/corpus/ in the normal build.
#
#   fuzz/run.sh [-t SECONDS] [-b BUILDDIR] [-j JOBS] [--seeds] [TARGET...]
#
#   -t  seconds per target (default 60, or $FUZZ_TIME)
#   -b  build dir (default /tmp/build-fuzz, or $FUZZ_BUILD)
#   -j  libFuzzer worker processes per target (default 1)
#   --seeds  regenerate the seed corpus into fuzz/corpus/ and stop
#   TARGET   id payload message chain frame invite state readmarker relation (default: all)
#
# The growing corpus lives in $BUILDDIR/fuzz-work/<target>/corpus, crashes in
# $BUILDDIR/fuzz-work/<target>/crash-*. Exits 1 if any target crashed; copy a
# reproducer to fuzz/corpus/<target>/crash-<name> so the replay test keeps it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
time=${FUZZ_TIME:-60}
build=${FUZZ_BUILD:-/tmp/build-fuzz}
jobs=1
seeds=no
while [ $# -gt 0 ]; do
  case $1 in
    -t) time=$2; shift 2 ;;
    -b) build=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --seeds) seeds=yes; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
targets=${*:-id payload message chain frame invite state readmarker relation}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$src" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dplugin=disabled
fi
if [ "$seeds" = yes ]; then
  ninja -C "$build" fuzz/fuzz-gen-seeds
  "$build/fuzz/fuzz-gen-seeds" "$here/corpus"
  exit 0
fi
for t in $targets; do
  ninja -C "$build" "fuzz/fuzz-$t"
done
build=$(cd "$build" && pwd)

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
status=0
for t in $targets; do
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus"
  extra=
  [ "$t" = message ] && extra=-max_len=16384
  echo "== fuzz-$t: ${time}s"
  set +e
  # in $work: with -jobs, libFuzzer writes fuzz-N.log into the cwd
  (cd "$work" && "$build/fuzz/fuzz-$t" -max_total_time="$time" \
    -print_final_stats=1 -artifact_prefix="$work/" -jobs="$jobs" \
    -workers="$jobs" $extra "$work/corpus" "$here/corpus/$t" \
    > "$work/log" 2>&1)
  rc=$?
  set -e
  execs=$(grep -h 'stat::number_of_executed_units' "$work"/log "$work"/fuzz-*.log 2>/dev/null \
            | awk '{s += $2} END {print s + 0}')
  rate=$(grep -h 'stat::average_exec_per_sec' "$work"/log "$work"/fuzz-*.log 2>/dev/null \
            | awk '{s += $2} END {print s + 0}')
  crashes=$(ls "$work" | grep -cE '^(crash|leak|timeout|oom)-' || true)
  echo "   execs: $execs  execs/s: $rate  crashes: $crashes  (rc $rc, log $work/log)"
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    status=1
    ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | sed "s|^|   $work/|" || true
    grep -m1 -E 'ERROR|Bail out' "$work/log" || true
  fi
done
exit $status
