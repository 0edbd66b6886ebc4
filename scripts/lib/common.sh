# Shared by scripts/run, scripts/test and .ci/run: find Python, keep .venv installed, install the
# JavaScript compatibility suite. Source it from the repository root.

VENV_DIR="${VENV_DIR:-.venv}"
MIN_PYTHON_MINOR=11

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The first Python >= 3.11: $PYTHON if set, else python3, python3.13, python3.12, python3.11.
find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c "import sys; sys.exit(sys.version_info < (3, $MIN_PYTHON_MINOR))" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Creates $VENV_DIR if it is missing or broken, and installs the pinned dependency tree when the
# lock file changed since the last install: every package at the version and with the hashes
# requirements.lock (or requirements-test.lock, with the test extras) names, its build backend
# included, then the package itself without resolving or downloading anything more.
# $1: the extras to install ("" or "test").
# After changing dependencies in pyproject.toml, regenerate the lock files with scripts/lock.
ensure_venv() {
  local extras="${1:-}" lock="requirements.lock" stamp python version
  [ "$extras" = "test" ] && lock="requirements-test.lock"
  [ -f "$lock" ] || die "$lock is missing (scripts/lock writes it)"
  if ! "$VENV_DIR/bin/python" -c "import sys" >/dev/null 2>&1; then
    python="$(find_python)" || die "Python 3.$MIN_PYTHON_MINOR or newer is required (set PYTHON=/path/to/python3.11)"
    say "creating $VENV_DIR with $python"
    rm -rf "$VENV_DIR"
    if ! "$python" -m venv "$VENV_DIR"; then
      rm -rf "$VENV_DIR"
      die "could not create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv"
    fi
  fi
  version="$(cat pyproject.toml requirements.lock requirements-test.lock 2>/dev/null | sha256sum | cut -c1-16)"
  stamp="$VENV_DIR/.installed-$version-${extras:-base}"
  # An install with the test extras also satisfies a plain one.
  if [ ! -f "$stamp" ] && { [ -n "$extras" ] || [ ! -f "$VENV_DIR/.installed-$version-test" ]; }; then
    say "installing tutorhub-messaging and its pinned dependencies ($lock) into $VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --quiet --require-hashes -r "$lock"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps --no-build-isolation --editable .
    "$VENV_DIR/bin/python" -m pip check >/dev/null ||
      die "$lock does not cover pyproject.toml's dependencies: run scripts/lock ($("$VENV_DIR/bin/python" -m pip check | head -1))"
    find "$VENV_DIR" -maxdepth 1 -name '.installed-*' -delete
    touch "$stamp"
  fi
  # The package is installed editable, so its bytecode lives beside the sources and nothing
  # compiled it. Where PYTHONDONTWRITEBYTECODE is set (many container images set it), Python would
  # then compile every module again at each start (~0.15 s); compileall writes what is missing or
  # stale, and costs ~50 ms when everything is current.
  "$VENV_DIR/bin/python" -m compileall -q src
}

# Installs compat/node_modules from compat/package-lock.json (npm ci) when missing or outdated.
ensure_compat_modules() {
  command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required for the compatibility suite"
  command -v npm >/dev/null 2>&1 || die "npm is required for the compatibility suite"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    die "Node.js 20 or newer is required (found $(node --version))"
  local lock_sum stamp="compat/node_modules/.installed-lock"
  lock_sum="$(sha256sum compat/package-lock.json | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
    say "installing the compatibility suite's packages (npm ci in compat/)"
    (cd compat && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$lock_sum" >"$stamp"
  fi
}

# True when Node.js 20.19+ (what the web client's build tool needs) and npm are installed.
webapp_node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number);
      process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}

# Installs webapp/node_modules from webapp/package-lock.json (npm ci) when missing or outdated:
# the web client's build tool and, for its browser suite, playwright-core.
ensure_webapp_modules() {
  webapp_node_ok || die "Node.js 20.19 or newer with npm is required for the web client (found $(node --version 2>/dev/null || echo none))"
  local lock_sum stamp="webapp/node_modules/.installed-lock"
  lock_sum="$(sha256sum webapp/package-lock.json | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
    say "installing the web client's packages (npm ci in webapp/)"
    (cd webapp && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$lock_sum" >"$stamp"
  fi
}

# Builds the web client into webapp/dist (served at /app/) when its sources changed since the
# last build. Without Node.js it says so in one line and returns: the API serves all the same.
build_webapp() {
  if ! webapp_node_ok; then
    say "note: the web client at /app/ is built with Node.js 20.19 or newer and npm; install them and run ./scripts/run again (the API serves without it)"
    return 0
  fi
  ensure_webapp_modules
  local sources stamp="webapp/node_modules/.built-sources"
  sources="$(cd webapp && find index.html vite.config.js package-lock.json src public -type f -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  if [ -f webapp/dist/index.html ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sources" ]; then
    return 0
  fi
  say "building the web client (webapp/dist)"
  if (cd webapp && npm run --silent build -- --logLevel warn); then
    printf '%s\n' "$sources" >"$stamp"
  else
    say "warning: the web client did not build; the API serves without it"
  fi
}
