# Shared by scripts/*: find Python 3.11+, create .venv on first use and keep it in step with
# pyproject.toml. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
      command -v "$candidate"; return 0
    fi
  done
  echo "error: GridLinks needs Python 3.11 or newer on PATH" >&2
  return 1
}

# ensure_venv EXTRAS: (re)install the project with those extras when pyproject.toml changed.
ensure_venv() {
  local extras="$1" stamp="$VENV/.gridlinks-installed-${1:-base}" target="$ROOT"
  [ -n "$extras" ] && target="$ROOT[$extras]"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$(find_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
  fi
  # Without extras, an up-to-date install with extras will do (scripts/serve after scripts/test).
  if [ -z "$extras" ]; then
    local any
    for any in "$VENV"/.gridlinks-installed-*; do
      [ -f "$any" ] && [ ! "$ROOT/pyproject.toml" -nt "$any" ] && stamp="$any"
    done
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "==> installing GridLinks and its dependencies (${extras:-runtime only}) into .venv"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$target"
    touch "$stamp"
  fi
}
