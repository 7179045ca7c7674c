#!/usr/bin/env bash
# Builds kustomize from the Go module proxy into .infra/install/kustomize (once; ~30 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
VERSION=v5.7.1
dir=".infra/install/kustomize"
if [ -x "$dir/kustomize" ] && [ "$(cat "$dir/version.txt" 2>/dev/null)" = "$VERSION" ]; then exit 0; fi
mkdir -p "$dir"
GOBIN="$PWD/$dir" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@${VERSION}"
echo "$VERSION" > "$dir/version.txt"
echo "[install] kustomize $VERSION built into $dir"
