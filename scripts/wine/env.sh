# Sourced by the Wine scripts: where the Wine prefix lives and how quiet Wine is.
# A prefix per network namespace: a running wineserver keeps the namespace it
# started in, so a test in another namespace needs its own prefix (and server).
export WINEPREFIX="${WINEPREFIX:-${HOME:-/root}/.cache/portqry-wine/default}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
