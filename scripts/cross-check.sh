#!/usr/bin/env bash
# Portability check: clippy (-D warnings) for FreeBSD, macOS and Windows from
# Linux, so code behind `cfg(not(target_os = "linux"))` keeps compiling.
# Needs the targets' standard libraries (`rustup target add`, fetched from
# static.rust-lang.org); it is not part of .ci/run because CI machines are
# only promised Debian, crates.io, PyPI and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(x86_64-unknown-freebsd x86_64-apple-darwin x86_64-pc-windows-gnu)
rustup target add "${targets[@]}"
for t in "${targets[@]}"; do
    echo "== $t" >&2
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/cross" cargo clippy --locked --target "$t" --all-targets -- -D warnings
done
