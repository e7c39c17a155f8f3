#!/usr/bin/env bash
# Installs the Debian packages some tests need (PostgreSQL server, headless Chromium) when missing.
# Never fails the build: a test whose server or browser is absent is skipped with the reason printed.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); those tests will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
  || echo "system-deps: apt-get install ${need[*]} failed; those tests will be skipped" >&2
exit 0
