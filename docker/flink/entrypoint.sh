#!/usr/bin/env bash
# Starts the official Flink image's entrypoint on a copy of the project's flink-conf/.
# Why a copy: that entrypoint rewrites conf/config.yaml in place to apply FLINK_PROPERTIES (the Docker-only settings in
# docker-compose.yml); on the mounted directory it would rewrite the repository's own file.
set -euo pipefail

mounted=/opt/cdc-indexer/flink-conf
if [[ ! -f "$mounted/config.yaml" ]]; then
    echo "Missing $mounted/config.yaml: docker-compose.yml mounts the repository's flink-conf/ there." >&2
    exit 1
fi
cp "$mounted"/* "$FLINK_HOME/conf/"
exec /docker-entrypoint.sh "$@"
