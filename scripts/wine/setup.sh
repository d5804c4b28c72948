#!/usr/bin/env bash
# Prepare a Wine prefix that runs Rust programs built for x86_64-pc-windows-gnu:
# create it (wineboot) and install the bcryptprimitives.dll stand-in
# (bcryptprimitives.c) into its system32. Idempotent; WINEPREFIX picks the prefix.
# Needs: gcc-mingw-w64-x86-64 and wine (Debian's wine64).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
mkdir -p "$(dirname "$WINEPREFIX")"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    wine wineboot --init >/dev/null 2>&1 || true
    wineserver --wait || true
fi
if [ ! -f "$dll" ] || [ "$here/bcryptprimitives.c" -nt "$dll" ]; then
    tmp="$(mktemp -d)"
    x86_64-w64-mingw32-gcc -shared -O2 -Wall -o "$tmp/bcryptprimitives.dll" \
        "$here/bcryptprimitives.c" -ladvapi32 -Wl,--kill-at
    install -m 0644 "$tmp/bcryptprimitives.dll" "$dll"
    rm -rf "$tmp"
fi
echo "$WINEPREFIX"
