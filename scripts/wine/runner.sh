#!/usr/bin/env bash
# CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER: run a Windows program under Wine
# in the prefix scripts/wine/setup.sh prepared (made on first use).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
[ -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ] || "$here/setup.sh" >/dev/null
exec wine "$@"
