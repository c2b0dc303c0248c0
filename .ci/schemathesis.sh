#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis
# (from PyPI): any 5xx, an undocumented status or content type, or a body
# that does not match the document fails. Runs the debug binary that
# `cargo test` built, in a scratch directory on the bundled example
# document, with a week of drafts stored first so the post operations
# reach real posts. HALCYTONE_SCHEMATHESIS_SEED picks another seed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="$root/target/debug/halcytone"
venv="$root/target/schemathesis"
if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "==> pip install schemathesis"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis==4.32.5'
fi

scratch="$(mktemp -d)"
token="schemathesis-$RANDOM$RANDOM"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cd "$scratch"
"$binary" generate --period week >/dev/null
HALCYTONE__SERVER__API_TOKEN="$token" "$binary" serve --bind "127.0.0.1:$port" >serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.2
done

echo "==> schemathesis run http://127.0.0.1:$port/openapi.json"
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --seed "${HALCYTONE_SCHEMATHESIS_SEED:-1}" \
    --no-color
