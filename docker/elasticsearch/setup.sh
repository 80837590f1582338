#!/usr/bin/env bash
# The Docker stack's Elasticsearch setup (service `elasticsearch-setup`, run as root in the Elasticsearch image):
#   1. certificates, once: a CA and a certificate for the node, whose names are `elasticsearch` (the other containers)
#      and `localhost`/127.0.0.1 (the host, through the published port), into CERTS_DIR, a bind mount of docker/certs/:
#        ca/ca.crt                        the CA, readable by all: the TaskManagers and ./cdc on the host trust it
#        ca/ca.key                        the CA's key, root only: it signs the node certificate, nothing else
#        elasticsearch/elasticsearch.crt  the node's certificate (HTTP and transport)
#        elasticsearch/elasticsearch.key  its key, root and group root only: Elasticsearch runs with group root
#      Existing files are kept: delete docker/certs/ to make new ones.
#   2. once Elasticsearch answers, as `elastic`: the role CDC_INDEXER_ROLE as ROLE_FILE defines it, and the user
#      CDC_INDEXER_USER with that role and CDC_INDEXER_PASSWORD, both created or updated: running it again applies a
#      changed password or role.
# Secrets come from the environment (docker/.env), never from arguments: curl reads the credentials from its standard
# input (-K -), the request bodies from files.
# `setup.sh check-password NAME VALUE` runs one step alone (DockerComposeFileTest does).
set -euo pipefail

# check-password NAME VALUE: fails, naming NAME (never the value), unless Elasticsearch takes VALUE as a password here.
check_password() {
    local name=$1 value=$2
    if ((${#value} < 6)); then
        echo "$name must have at least 6 characters (Elasticsearch's minimum): set it in docker/.env" >&2
        return 1
    fi
    # Excluded so the value can go into JSON and curl's config file as it stands, without escaping.
    if [[ $value == *[\"\\[:space:][:cntrl:]]* ]]; then
        echo "$name must not contain a quote, a backslash or white space: set it in docker/.env" >&2
        return 1
    fi
}

log() {
    echo "$(date -u +%FT%TZ) elasticsearch-setup: $*"
}

make_certificates() {
    local work
    work=$(mktemp -d)
    if [[ ! -f $certs/ca/ca.crt || ! -f $certs/ca/ca.key ]]; then
        log "making a CA in $certs/ca"
        elasticsearch-certutil ca --silent --pem --out "$work/ca.zip"
        unzip -q -o "$work/ca.zip" -d "$certs"
    fi
    if [[ ! -f $certs/elasticsearch/elasticsearch.crt || ! -f $certs/elasticsearch/elasticsearch.key ]]; then
        log "making the node certificate for elasticsearch, localhost and 127.0.0.1 in $certs/elasticsearch"
        cat >"$work/instances.yml" <<'YAML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
YAML
        elasticsearch-certutil cert --silent --pem --in "$work/instances.yml" --out "$work/node.zip" \
            --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
        unzip -q -o "$work/node.zip" -d "$certs"
    fi
    rm -rf "$work"
    chown -R 0:0 "$certs"
    chmod 755 "$certs" "$certs/ca"
    chmod 750 "$certs/elasticsearch"
    chmod 644 "$certs/ca/ca.crt" "$certs/elasticsearch/elasticsearch.crt"
    chmod 600 "$certs/ca/ca.key"
    chmod 640 "$certs/elasticsearch/elasticsearch.key"
    touch "$ready_marker"
}

# request METHOD PATH [BODY_FILE]: one call as `elastic`. Sets status (000: no answer) and answer; fails unless 2xx.
request() {
    local method=$1 path=$2 body=${3:-} file
    file=$(mktemp)
    local args=(-sS -K - --cacert "$certs/ca/ca.crt" -o "$file" -w '%{http_code}' -X "$method" "$url/$path")
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
    status=$(printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" | curl "${args[@]}" 2>/dev/null) || status=000
    answer=$(cat "$file")
    rm -f "$file"
    [[ $status == 2* ]]
}

await_elasticsearch() {
    local deadline=$((SECONDS + ${SETUP_TIMEOUT_SECONDS:-300}))
    log "waiting for Elasticsearch at $url"
    until request GET '_cluster/health?wait_for_status=yellow&timeout=5s'; do
        if [[ $status == 401 ]]; then
            log "Elasticsearch refuses the password of elastic (ELASTIC_PASSWORD in docker/.env). Changed in .env" \
                "after the first start? Change it in Elasticsearch too (docs/docker.md, Security)."
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "Elasticsearch at $url gave no healthy answer within ${SETUP_TIMEOUT_SECONDS:-300} s (last: HTTP" \
                "$status $answer)"
            return 1
        fi
        sleep 3
    done
}

# put WHAT PATH BODY_FILE: creates or updates one security object, logging Elasticsearch's answer.
put() {
    local what=$1
    if ! request PUT "$2" "$3"; then
        log "$what: refused (HTTP $status): $answer"
        return 1
    fi
    log "$what: $answer"
}

main() {
    : "${ELASTIC_PASSWORD:?}" "${CDC_INDEXER_USER:?}" "${CDC_INDEXER_ROLE:?}" "${CDC_INDEXER_PASSWORD:?}" "${ROLE_FILE:?}"
    certs=${CERTS_DIR:-/usr/share/elasticsearch/config/certs}
    url=${ELASTICSEARCH_URL:-https://elasticsearch:9200}
    ready_marker=${READY_MARKER:-/tmp/certificates-ready}
    check_password ELASTIC_PASSWORD "$ELASTIC_PASSWORD"
    check_password CDC_INDEXER_PASSWORD "$CDC_INDEXER_PASSWORD"
    rm -f "$ready_marker"
    make_certificates
    log "certificates ready; Elasticsearch may start"

    await_elasticsearch
    local user
    user=$(mktemp)
    printf '{"password":"%s","roles":["%s"],"full_name":"cdc-indexer job"}' \
        "$CDC_INDEXER_PASSWORD" "$CDC_INDEXER_ROLE" >"$user"
    put "role $CDC_INDEXER_ROLE from $ROLE_FILE" "_security/role/$CDC_INDEXER_ROLE" "$ROLE_FILE"
    put "user $CDC_INDEXER_USER with role $CDC_INDEXER_ROLE" "_security/user/$CDC_INDEXER_USER" "$user"
    rm -f "$user"
    log "done"
}

case ${1:-} in
    check-password) shift; check_password "$@" ;;
    *) main ;;
esac
