#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install winback into it.
# Usage: scripts/bootstrap.sh [EXTRAS]   e.g. scripts/bootstrap.sh test
# Re-installs only when pyproject.toml or the extras changed, so repeated runs cost a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
venv="$root/.venv"

python="${WINBACK_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "winback needs Python 3.11 or newer (set WINBACK_PYTHON to its path)" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "creating the virtual environment in $venv" >&2
  "$python" -m venv "$venv"
fi

stamp="$venv/.winback-install"
want="$( (cat "$root/pyproject.toml"; echo "extras=$extras") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing winback${extras:+ [$extras]} and its dependencies" >&2
  "$venv/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install -qq --disable-pip-version-check -e "$root${extras:+[$extras]}" >&2
  echo "$want" > "$stamp"
fi
