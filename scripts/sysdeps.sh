#!/usr/bin/env bash
# System packages the test suite uses, from Debian's repositories: PostgreSQL (the store against
# a real server), Chromium (the panel's browser tests) and a Japanese font for Chromium.
# Best effort: without root or sudo it says what is missing, and those tests skip with a reason.
set -uo pipefail
need=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
((${#need[@]})) || exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
  echo "sysdeps: missing ${need[*]} (install them with apt-get); their tests will be skipped" >&2
  exit 0
fi
echo "sysdeps: installing ${need[*]}" >&2
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
