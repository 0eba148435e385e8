#!/usr/bin/env bash
# Installs what the OpenID Connect test harness in this folder needs and
# prints, as its last line on stdout, the absolute path of the node binary to
# run provider.mjs, signin.mjs and selftest.mjs with:
#
#     node=$(tests/clients/oidc/ensure.sh | tail -n1)
#     "$node" tests/clients/oidc/provider.mjs
#
# - node_modules (oidc-provider, puppeteer-core; pinned in package.json and
#   package-lock.json here) go to <repo>/target/oidc, reinstalled with `npm ci`
#   only when those two files changed or node_modules is missing;
# - oidc-provider 9 supports Node 22 and later (it warns on older runtimes and
#   uses APIs that Node 20 lacks): when the node on PATH is older, Node 24
#   comes from the npm registry (the `node` package) into target/oidc/node24,
#   as scripts/client-glesys does.
# Everything else (npm's chatter) goes to stderr. Safe to run from several
# processes at once (flock on target/oidc.lock); a no-op run takes a few
# tens of milliseconds. Chromium is not installed here: signin.mjs does that
# when it is missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
dir="$root/target/oidc"
min_node=22

mkdir -p "$dir"
exec 9>"$root/target/oidc.lock"
if ! flock -w 900 9; then
    echo "oidc ensure: could not lock $root/target/oidc.lock within 15 minutes" >&2
    exit 1
fi

if ! cmp -s "$here/package.json" "$dir/package.json" ||
    ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
    echo "oidc ensure: npm ci in $dir" >&2
    rm -rf "$dir/node_modules"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    # No downloaded browser: puppeteer-core drives the system Chromium.
    if ! (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >&2; then
        # A half-installed tree must not pass for a good one next time.
        rm -rf "$dir/node_modules"
        echo "oidc ensure: npm ci failed" >&2
        exit 1
    fi
fi

node=$(command -v node || true)
major=0
if [ -n "$node" ]; then
    node=$(realpath "$node")
    major=$("$node" -p 'process.versions.node.split(".")[0]')
fi
if [ "$major" -lt "$min_node" ]; then
    node="$dir/node24/node_modules/.bin/node"
    if [ ! -x "$node" ]; then
        echo "oidc ensure: node ${major} is older than $min_node; installing node@24 (npm) into $dir/node24" >&2
        rm -rf "$dir/node24"
        mkdir -p "$dir/node24"
        # A package.json of its own, or npm would install into the parent's.
        echo '{"private": true}' >"$dir/node24/package.json"
        if ! (cd "$dir/node24" && npm install --no-audit --no-fund --loglevel=error node@24) >&2 ||
            [ ! -x "$node" ]; then
            rm -rf "$dir/node24"
            echo "oidc ensure: installing node@24 failed" >&2
            exit 1
        fi
    fi
fi
echo "$node"
