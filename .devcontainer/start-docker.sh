#!/usr/bin/env bash
# Runs on every start of the dev container: starts the Docker engine inside it (the container runs --privileged) and
# waits until it answers.
set -euo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi

# cgroup v2: move this container's processes into a child group so that dockerd may enable the controllers for the
# containers it starts (as the official docker:dind image does).
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control || true
fi

setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &

deadline=$((SECONDS + 60))
until docker info >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
        echo "dockerd did not start within 60 s; see /var/log/dockerd.log" >&2
        exit 1
    fi
    sleep 1
done
echo "Docker engine ready: docker compose -f docker/docker-compose.yml up -d --build"
