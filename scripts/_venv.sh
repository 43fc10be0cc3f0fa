# Shared by scripts/serve and scripts/test: make .venv if missing and install the project into it.
# Usage: . scripts/_venv.sh EXTRAS   (e.g. "server" or "test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "unioncard needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
VENV_PY="$ROOT/.venv/bin/python"
# Reinstall only when the project's metadata changed since the last install.
stamp=".venv/.unioncard-installed-$1"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing unioncard[$1] into .venv" >&2
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check -e ".[$1]" >&2
  touch "$stamp"
fi
