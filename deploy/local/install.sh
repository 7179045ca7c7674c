#!/usr/bin/env bash
# Installs the real servers the local system and the test suite run against, from the package
# registries only: Apache Kafka (Maven Central), Apicurio Registry (Maven Central) and FerretDB
# (built from the Go module proxy). Everything lands under $INFRA_HOME (default: <repo>/.infra,
# git-ignored) and is reused when already there, so a second run takes a second.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
INFRA_HOME="${INFRA_HOME:-$repo/.infra}"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
REGISTRY_VERSION="${REGISTRY_VERSION:-3.3.3}"
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"

install_root="$INFRA_HOME/install"
mkdir -p "$install_root"

say() { printf '[install] %s\n' "$*" >&2; }
fail() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }
timed() {
  local label="$1"; shift
  local start=$SECONDS
  "$@"
  say "$label took $((SECONDS - start))s"
}

need() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is required but not on PATH ($2)"
}

# Maven's output goes to a log file, shown only when it fails.
quiet_mvn() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  if ! mvn -B "$@" > "$log" 2>&1; then
    tail -40 "$log" >&2
    fail "mvn $* failed (full log: $log)"
  fi
}

java_major() {
  "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

# The registry (Quarkus 3.33) needs Java 21 or newer; Kafka runs on 17. Print the java binary to
# use for the registry: $REGISTRY_JAVA if set, else the first JDK >= 21 found.
find_registry_java() {
  local candidates=()
  [ -n "${REGISTRY_JAVA:-}" ] && candidates+=("$REGISTRY_JAVA")
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  for d in /usr/lib/jvm/* /opt/java/* /opt/jdk*; do
    [ -x "$d/bin/java" ] && candidates+=("$d/bin/java")
  done
  for j in "${candidates[@]}"; do
    local m
    m="$(java_major "$j" 2>/dev/null || true)"
    if [ -n "$m" ] && [ "$m" -ge 21 ]; then
      echo "$j"
      return 0
    fi
  done
  return 1
}

install_kafka() {
  local dest="$install_root/kafka-$KAFKA_VERSION"
  [ -f "$dest/.installed" ] && return 0
  need mvn "install Maven 3"
  need java "install a Java 17+ JDK"
  rm -rf "$dest" && mkdir -p "$dest/libs"
  # Kafka 4 needs kafka-server, kafka-storage, kafka-tools and a log4j2 binding; 3.x its reload4j one.
  local pom="$here/kafka4-pom.xml"
  [ "${KAFKA_VERSION%%.*}" -lt 4 ] && pom="$here/kafka-pom.xml"
  quiet_mvn "$dest/mvn.log" -f "$pom" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest/libs"
  ls "$dest/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || fail "Kafka jars did not resolve"
  touch "$dest/.installed"
}

install_registry() {
  local dest="$install_root/apicurio-registry-$REGISTRY_VERSION"
  if [ ! -f "$dest/.installed" ]; then
    need mvn "install Maven 3"
    rm -rf "$dest" && mkdir -p "$dest"
    quiet_mvn "$dest/mvn.log" dependency:copy \
      -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
      -DoutputDirectory="$dest"
    tar -xzf "$dest"/apicurio-registry-app-*-all.tar.gz -C "$dest"
    rm -f "$dest"/apicurio-registry-app-*-all.tar.gz
    [ -f "$dest/quarkus-run.jar" ] || fail "registry archive has no quarkus-run.jar"
    touch "$dest/.installed"
  fi
  local j
  j="$(find_registry_java)" || fail "Apicurio Registry $REGISTRY_VERSION needs Java 21+; none found (set REGISTRY_JAVA to a java binary)"
  echo "$j" > "$dest/java-path"
}

# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds, but the binary panics at
# start: the module archive lacks build/version/version.txt, which FerretDB's own build generates.
# So the same module is fetched from the Go module proxy, that one file is written, our patches
# (deploy/local/ferretdb-patches/, in order) are applied, and it is built. `.installed` holds the
# patches' checksum: a changed or added patch rebuilds it.
install_ferretdb() {
  local dest="$install_root/ferretdb-$FERRETDB_VERSION"
  local patches_dir="$here/ferretdb-patches"
  local sum
  # The patches and how they are applied (a build whose patches were skipped is rebuilt).
  sum="$( (cat "$patches_dir"/*.patch; echo "applied outside the checkout") | sha256sum | cut -d' ' -f1)"
  [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$sum" ] && return 0
  need go "install Go 1.22+"
  need git "install git (applies FerretDB's patches)"
  rm -rf "$dest" && mkdir -p "$dest"
  local src
  src="$(cd "$dest" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || fail "could not download FerretDB $FERRETDB_VERSION from the Go module proxy"
  cp -r "$src" "$dest/src"
  chmod -R u+w "$dest/src"
  echo "$FERRETDB_VERSION" > "$dest/src/build/version/version.txt"
  local patch
  for patch in "$patches_dir"/*.patch; do
    # Outside any repository (the checkout holding .infra is one), so git apply neither resolves
    # paths from the checkout's root nor skips them silently.
    (cd "$dest/src" && GIT_CEILING_DIRECTORIES="$dest" git apply -p1 "$patch") || fail "FerretDB patch $(basename "$patch") does not apply to $FERRETDB_VERSION"
  done
  (cd "$dest/src" && go build -trimpath -o "$dest/ferretdb" ./cmd/ferretdb)
  rm -rf "$dest/src"
  echo "$sum" > "$dest/.installed"
}

timed "Kafka $KAFKA_VERSION" install_kafka
timed "Apicurio Registry $REGISTRY_VERSION" install_registry
timed "FerretDB $FERRETDB_VERSION" install_ferretdb
