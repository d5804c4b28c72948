#!/usr/bin/env bash
# Portability check: clippy (-D warnings) for FreeBSD, macOS and Windows from
# Linux, so code behind `cfg(not(target_os = "linux"))` keeps compiling.
# Needs the targets' standard libraries (`rustup target add`, fetched from
# static.rust-lang.org); it is not part of .ci/run because CI machines are
# only promised Debian, crates.io, PyPI and npm. Needs clang (macOS, for ring's C)
# and gcc-mingw-w64-x86-64 (Windows).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(x86_64-unknown-freebsd x86_64-apple-darwin x86_64-pc-windows-gnu)
rustup target add "${targets[@]}"
# ring (rustls' crypto) compiles C in its build script. For macOS there is no SDK
# here: clang with stand-ins for the few SDK/libc headers it includes; the objects
# are only compiled for clippy, never linked.
export CC_x86_64_apple_darwin=clang
export CFLAGS_x86_64_apple_darwin="-ffreestanding -isystem $PWD/scripts/cross/apple-include"
for t in "${targets[@]}"; do
    echo "== $t" >&2
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/cross" cargo clippy --locked --target "$t" --all-targets -- -D warnings
done
