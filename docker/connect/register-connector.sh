#!/usr/bin/env bash
# Registers the connector that a JSON file {"name": ..., "config": {...}} describes, then waits until it runs.
# PUT /connectors/<name>/config creates the connector or updates its config, so running this again is harmless
# and picks up edits to the file.
set -euo pipefail

file=${1:?usage: register-connector.sh CONNECTOR_JSON [CONNECT_URL]}
url=${2:-http://localhost:8083}
name=$(jq -er .name "$file")

echo "Registering connector $name from $file with $url"
jq -e .config "$file" \
    | curl -sS --fail-with-body --retry 10 --retry-connrefused --retry-delay 3 \
        -X PUT -H 'Content-Type: application/json' --data-binary @- "$url/connectors/$name/config"
echo

# Poll with a deadline: a connector that cannot reach PostgreSQL shows FAILED with its reason in the status.
deadline=$((SECONDS + 120))
while true; do
    status=$(curl -sS "$url/connectors/$name/status" || true)
    if jq -e '.connector.state == "RUNNING" and (.tasks | length > 0) and all(.tasks[]; .state == "RUNNING")' \
            <<<"$status" >/dev/null 2>&1; then
        echo "Connector $name is RUNNING"
        exit 0
    fi
    if jq -e '[.connector.state, .tasks[].state] | any(. == "FAILED")' <<<"$status" >/dev/null 2>&1; then
        echo "Connector $name FAILED: $status" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "Connector $name not RUNNING after 120 s; last status: $status" >&2
        exit 1
    fi
    sleep 2
done
