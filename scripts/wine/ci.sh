#!/usr/bin/env bash
# The Windows section of CI (.ci/run), runnable alone as root: install mingw
# and Wine, add the target, clippy -D warnings for it, prepare the Wine prefix
# (bcryptprimitives.dll stand-in), run the plain tier (unit, loopback, JSON
# tests) under Wine, then issue 15's checks (done-when.sh).
# Wine runs the Linux network stack underneath: this checks our Windows code
# paths, not Windows' own TCP/IP (docs/DEVELOPING.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=x86_64-pc-windows-gnu
export DEBIAN_FRONTEND=noninteractive CARGO_TERM_COLOR=never

if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 wine wine64 >/dev/null
fi
rustup target add "$target"
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/wine/runner.sh"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER

echo "== windows: clippy"
cargo clippy --locked --target "$target" --all-targets -- -D warnings

echo "== windows: Wine prefix"
bash scripts/wine/setup.sh

echo "== windows: plain tier under Wine (unit, loopback, JSON)"
cargo test --locked --target "$target"

echo "== windows: issue 15's checks under Wine"
dir="${CARGO_TARGET_DIR:-target}/$target/debug"
bash scripts/wine/done-when.sh "$dir/portqry.exe"
. scripts/wine/env.sh
wineserver -k 2>/dev/null || true
