#!/usr/bin/env bash
# fuzz/run.sh TARGET|all [SECONDS]
#
# Builds the cargo-fuzz targets and runs each for SECONDS (default 30) starting from the
# seeds in fuzz/seeds/TARGET (read-only) plus the working corpus fuzz/corpus/TARGET
# (git-ignored; new inputs land there). Prints one summary line per target and exits
# non-zero if any target crashed, timed out, ran out of memory or did not build.
#
# The machine's toolchain is stable Rust; cargo-fuzz passes nightly-only flags
# (-Zsanitizer, -Cpasses=sancov-module, ...), so everything runs with RUSTC_BOOTSTRAP=1.
# Installs cargo-fuzz from crates.io (cargo install --locked) if it is missing.
#
# Environment:
#   FUZZ_SANITIZER   address (default, cargo-fuzz's default) or none (about 1.5-3x faster;
#                    the parsers have no unsafe code, so ASan mostly adds malloc checks)
#   FUZZ_JOBS        libFuzzer -jobs/-workers per target (default 1)
#   FUZZ_EXTRA       extra libFuzzer flags, e.g. "-only_ascii=1"
#   CARGO_FUZZ_VERSION  version to install when cargo-fuzz is missing (default 0.13.2)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ALL=(dns_response netbios_response ldap_response epm_reply dcerpc_pdu snmp_response tftp_response
     l2tp_response banner_response ssrp_response ike_response smb2_negotiate_reply rdp_confirm kerberos_reply ntp_reply
     nbdgm_reply tls_certificate)

usage() {
  echo "usage: fuzz/run.sh TARGET|all [SECONDS]" >&2
  echo "targets: ${ALL[*]}" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
SECS=${2:-30}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || usage
if [[ $1 == all ]]; then
  TARGETS=("${ALL[@]}")
else
  [[ " ${ALL[*]} " == *" $1 "* ]] || usage
  TARGETS=("$1")
fi
SAN=${FUZZ_SANITIZER:-address}
JOBS=${FUZZ_JOBS:-1}

export RUSTC_BOOTSTRAP=1
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
  v=${CARGO_FUZZ_VERSION:-0.13.2}
  echo "run.sh: installing cargo-fuzz $v (cargo install --locked)" >&2
  t0=$SECONDS
  cargo install cargo-fuzz --version "$v" --locked >&2 || { echo "run.sh: cargo-fuzz install failed" >&2; exit 1; }
  echo "run.sh: cargo-fuzz installed in $((SECONDS - t0)) s" >&2
fi

cd "$ROOT" || exit 1
LOGDIR="$HERE/target/run-logs"
mkdir -p "$LOGDIR"

echo "run.sh: building ${TARGETS[*]} (sanitizer $SAN, $(rustc --version))" >&2
t0=$SECONDS
build_args=(build -s "$SAN")
[[ ${#TARGETS[@]} -eq 1 ]] && build_args+=("${TARGETS[0]}")
if ! cargo fuzz "${build_args[@]}" >"$LOGDIR/build.log" 2>&1; then
  tail -40 "$LOGDIR/build.log" >&2
  echo "run.sh: build FAILED (log: $LOGDIR/build.log)" >&2
  exit 1
fi
echo "run.sh: built in $((SECONDS - t0)) s" >&2
BIN="$HERE/target/$(rustc -vV | sed -n 's/^host: //p')/release"

failed=0
summaries=()
for t in "${TARGETS[@]}"; do
  corpus="$HERE/corpus/$t"
  seeds="$HERE/seeds/$t"
  mkdir -p "$corpus" "$HERE/artifacts/$t"
  log="$LOGDIR/$t.log"
  dirs=("$corpus")
  [[ -d $seeds ]] && dirs+=("$seeds")
  lf=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512
      -print_final_stats=1)
  [[ $JOBS -gt 1 ]] && lf+=(-jobs="$JOBS" -workers="$JOBS")
  # shellcheck disable=SC2206
  [[ -n ${FUZZ_EXTRA:-} ]] && lf+=($FUZZ_EXTRA)
  echo "run.sh: $t for ${SECS} s (log: $log)" >&2
  # Run the binary built above, not `cargo fuzz run`: that would rebuild first, and a
  # tree that someone is editing may not compile (or may differ) by the time we get here.
  # The outer timeout only guards against a wedged process: libFuzzer stops itself.
  ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    timeout --kill-after=10 $((SECS + 60)) \
    "$BIN/$t" -artifact_prefix="$HERE/artifacts/$t/" "${lf[@]}" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  # libFuzzer's own counters: final stats when it ends normally, else the last status line.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -n $runs ]] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  [[ -n $eps ]] || eps=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  corp=$(find "$corpus" -type f | wc -l)
  crashes=$(grep -cE 'Test unit written to .*/(crash|timeout|oom|leak)-' "$log")
  line="$t: runs=${runs:-0} exec/s=${eps:-?} cov=${cov:-?} corpus=$corp crashes=$crashes"
  if [[ $crashes -gt 0 || $rc -ne 0 ]]; then
    failed=1
    art=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    if [[ $crashes -gt 0 ]]; then
      line+=" FAILED (exit $rc, input ${art:-?}; see $log)"
    else
      line+=" ERROR (exit $rc, no crash input: did it start? see $log)"
    fi
    grep -m1 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" >&2 || true
  fi
  summaries+=("$line")
  echo "$line"
done

echo "run.sh: ---- summary (${SECS} s per target) ----"
printf '%s\n' "${summaries[@]}"
exit "$failed"
