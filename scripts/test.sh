#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: the README's test command.
#   bash scripts/test.sh [pytest args...]
# Installs Debian's Chromium (for the real-browser test) when it is missing,
# the Python packages of requirements.txt and requirements-cluster.txt (Ray), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
python -m pip install -q -r requirements.txt
python -m pip install -q -r requirements-cluster.txt  # Ray, for tests/test_ray.py
export TF_CPP_MIN_LOG_LEVEL=2
exec python -m pytest "$@"
