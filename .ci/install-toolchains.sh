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
# C++ functions link libcurl as in the official image; one with a CMakeLists.txt is built with cmake.
curl_dev() { compgen -G "/usr/include/curl/curl.h" >/dev/null || compgen -G "/usr/include/*/curl/curl.h" >/dev/null; }
curl_dev || need_apt+=(libcurl4-openssl-dev)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
command -v javac >/dev/null || need_apt+=(default-jdk-headless)
command -v node >/dev/null || need_apt+=(nodejs npm)
# Headless Chromium for the web SDK browser test (tests/security/test_web_sdk_browser.py).
command -v chromium >/dev/null || need_apt+=(chromium)
# What the official runtimes bundle (Ruby's async gem, gson for Java/Kotlin) and, for
# dependencies.gradle, Maven with a local repository the tests resolve from offline
# (/usr/share/maven-repo: the dependency plugin, commons-lang3; junit4 completes the plugin's POMs).
command -v mvn >/dev/null || need_apt+=(maven)
for pkg in ruby-async libgoogle-gson-java libmaven-dependency-plugin-java libcommons-lang3-java junit4; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Deno ships its binary inside the npm package: no separate download.
command -v deno >/dev/null || npm install -g --no-audit --no-fund --loglevel=error deno@2.9.6

# Kotlin: JetBrains' compiler as published on npm (runs on the JDK above).
command -v kotlinc >/dev/null || [ -x "$(npm root -g)/kotlin-compiler/bin/kotlinc" ] || \
  npm install -g --no-audit --no-fund --loglevel=error kotlin-compiler@2.4.20

# Fail here, loudly, when a toolchain did not end up installed: the test suite (CI=true, see
# tests/support.py require_toolchain) would fail on it anyway, with a less direct message.
still_missing=()
for bin in php composer ruby bundle g++ javac node npm deno chromium; do
  command -v "$bin" >/dev/null || still_missing+=("$bin")
done
[ -f /usr/include/jsoncpp/json/json.h ] || still_missing+=(libjsoncpp-dev)
curl_dev || still_missing+=(libcurl4-openssl-dev)
command -v cmake >/dev/null || still_missing+=(cmake)
command -v mvn >/dev/null || still_missing+=(maven)
[ -f /usr/share/java/gson.jar ] || still_missing+=(libgoogle-gson-java)
ruby -e "require 'async'" 2>/dev/null || still_missing+=(ruby-async)
command -v kotlinc >/dev/null || [ -x "$(npm root -g)/kotlin-compiler/bin/kotlinc" ] || still_missing+=(kotlinc)
if [ ${#still_missing[@]} -gt 0 ]; then
  echo "install-toolchains: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi
