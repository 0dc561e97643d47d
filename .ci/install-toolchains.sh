#!/usr/bin/env bash
# Installs the language toolchains the runtime contract suite runs against (Debian packages and
# registry packages only). Toolchains that cannot be had here (dart, swift, dotnet) are left out:
# their tests skip with the install hint.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need_apt=()
command -v php >/dev/null || need_apt+=(php-cli)
command -v composer >/dev/null || need_apt+=(composer)
command -v ruby >/dev/null || need_apt+=(ruby)
command -v bundle >/dev/null || need_apt+=(ruby-bundler)
[ -f /usr/include/jsoncpp/json/json.h ] || need_apt+=(libjsoncpp-dev)
command -v g++ >/dev/null || need_apt+=(g++)
command -v javac >/dev/null || need_apt+=(default-jdk-headless)
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Deno ships its binary inside the npm package: no separate download.
command -v deno >/dev/null || npm install -g --no-audit --no-fund --loglevel=error deno@2.9.6

# Kotlin: JetBrains' compiler as published on npm (runs on the JDK above).
command -v kotlinc >/dev/null || [ -x "$(npm root -g)/kotlin-compiler/bin/kotlinc" ] || \
  npm install -g --no-audit --no-fund --loglevel=error kotlin-compiler@2.4.20
