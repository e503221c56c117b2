#!/usr/bin/env bash
# Measure the Portkey AI Gateway (npm @portkey-ai/gateway) beside Meridian:
# installs it from the npm registry (once, into a cache directory), starts it
# on loopback, and runs `meridian bench` with a "portkey" column on the same
# mockllm upstream and the same load. Portkey learns the upstream per request
# (x-portkey-custom-host), so the harness points it at its own mockllm.
#
# Usage: bench/peers/portkey.sh [meridian bench flags...]
#   MERIDIAN=path/to/meridian   (default: go run ./cmd/meridian)
#   PORTKEY_VERSION=1.15.2      PORTKEY_PORT=18787
#   MERIDIAN_PEERS_DIR=dir      (default: ${XDG_CACHE_HOME:-~/.cache}/meridian-bench-peers)
#
# Nothing is downloaded at run time except by `npm install` from the
# registry. Portkey's server takes no listen address: it binds every
# interface on PORTKEY_PORT; the benchmark sends load to 127.0.0.1 only.
set -euo pipefail

version=${PORTKEY_VERSION:-1.15.2}
port=${PORTKEY_PORT:-18787}
dir=${MERIDIAN_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian-bench-peers}/portkey-$version
root=$(cd "$(dirname "$0")/../.." && pwd)

command -v node >/dev/null || { echo "portkey.sh: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "portkey.sh: npm is not installed" >&2; exit 1; }

if [ ! -f "$dir/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
	mkdir -p "$dir"
	(cd "$dir" && npm install --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$version" >&2)
fi

node "$dir/node_modules/@portkey-ai/gateway/build/start-server.js" --port="$port" --headless >"$dir/portkey.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
	if curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
	kill -0 "$pid" 2>/dev/null || { echo "portkey.sh: Portkey exited; see $dir/portkey.log" >&2; exit 1; }
	sleep 0.1
done

if [ -n "${MERIDIAN:-}" ]; then
	run=("$MERIDIAN")
else
	run=(go run "$root/cmd/meridian")
fi
"${run[@]}" bench \
	--peer "portkey=http://127.0.0.1:$port" --peer-pid "portkey=$pid" \
	--peer-header "portkey:x-portkey-provider: openai" \
	--peer-header "portkey:x-portkey-custom-host: {upstream}/v1" \
	--peer-header "portkey:Authorization: Bearer bench" \
	"$@"
