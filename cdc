#!/usr/bin/env bash
# ./cdc: the cdc-indexer command line. Builds the project on first use (and again when sources change), then runs
# io.cdcindexer.cli.Cdc. Works from any folder; `./cdc --help` lists the commands.
set -euo pipefail

home="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
target="$home/target"
stamp="$target/.cdc-built"            # touched after each successful build
classpath_file="$target/cli.classpath" # the command line's runtime classpath, resolved once per pom change

# Maven 3.8's Jansi writes a colour reset (ESC[0m) to stdout and stderr when it exits, even with -q -B and
# style.color=never; jansi.noreset (read from the JVM's options, not from -D) keeps the build's output clean.
export MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true"

# Anything under src/main or the pom newer than the last build?
if [ ! -f "$stamp" ] || [ ! -d "$target/classes" ] \
    || [ -n "$(find "$home/src/main" "$home/pom.xml" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "cdc: building cdc-indexer (mvn package, tests skipped) ..." >&2
  mvn -q -B -Dstyle.color=never -f "$home/pom.xml" -DskipTests package >&2
  mkdir -p "$target"
  touch "$stamp"
fi

if [ ! -s "$classpath_file" ] || [ "$home/pom.xml" -nt "$classpath_file" ]; then
  mvn -q -B -Dstyle.color=never -f "$home/pom.xml" dependency:build-classpath -DincludeScope=runtime \
      -Dmdep.outputFile="$classpath_file.partial" >&2
  mv "$classpath_file.partial" "$classpath_file"
fi

exec java -Dcdc.home="$home" -cp "$target/classes:$(cat "$classpath_file")" io.cdcindexer.cli.Cdc "$@"
