#!/usr/bin/env bash
# build-influxd.sh - build the InfluxDB OSS 2.x server (`influxd`) from source
# and cache the binary outside any git clone.
#
#   scripts/build-influxd.sh            # prints the binary path on stdout
#   BIN="$(scripts/build-influxd.sh)"   # progress goes to stderr, path to stdout
#
# Result:  $TRADELANE_CACHE/influxdb/<version>/influxd
#          (TRADELANE_CACHE defaults to $HOME/.cache/tradelane)
# If that file already exists the script prints its path and exits 0 at once.
#
# Environment knobs:
#   TRADELANE_CACHE        cache root (default: $HOME/.cache/tradelane)
#   INFLUXDB_VERSION       InfluxDB 2.x module version (default: v2.8.0)
#   TRADELANE_KEEP_BUILD=1 keep the build tree after a successful build
#
# What it needs: Go (>= the version the influxdb go.mod asks for; 1.24 for
# v2.8.0), a C compiler (cgo: sqlite, libflux glue), the system `pkg-config`,
# and Rust/cargo (any recent stable; libflux is compiled on demand).
# Network: only the Go module proxy (Go modules) and the crates registry
# (Rust crates, fetched by cargo).
#
# How it works (same shape as public packaging recipes, e.g. Homebrew's):
#   1. `go mod download` the influxdb module, copy it to a writable build dir
#      (the module uses replace directives, so `go install pkg@ver` won't do).
#   2. Copy the flux module (which holds the Rust libflux sources) next to it,
#      patch it so it builds with a current Rust toolchain, and point the
#      influxdb go.mod at the copy with a `replace` directive.
#   3. `go install github.com/influxdata/pkg-config@<ver>` into a private bin
#      dir and put it first on PATH: when cgo asks pkg-config for "flux" it
#      runs `cargo build --release` in libflux and links the static library.
#   4. Pre-build libflux with cargo (same command the wrapper uses, so the
#      wrapper's own call is a no-op and errors are visible in the log).
#   5. `go build ./cmd/influxd` (no `assets` tag: no UI is embedded).
#
# libflux patch: flux v0.196.x pins Rust 1.72 (rust-toolchain.toml) and
# enables `#![deny(warnings)]` through its default "strict" cargo feature.
# Newer rustc versions add lints (e.g. mismatched_lifetime_syntaxes,
# dead_code), which turns those warnings into hard errors. RUSTFLAGS
# `--cap-lints` does not reach build-script dependencies when `--target` is
# used, so the script drops "strict" from the default features and removes the
# toolchain pin so the machine's default toolchain is used.

set -Eeuo pipefail

# ---------------------------------------------------------------- settings --
INFLUXDB_MODULE="github.com/influxdata/influxdb/v2"
INFLUXDB_VERSION="${INFLUXDB_VERSION:-v2.8.0}"
[[ $INFLUXDB_VERSION == v* ]] || INFLUXDB_VERSION="v$INFLUXDB_VERSION"
GO_BUILD_TAGS="sqlite_foreign_keys,sqlite_json"   # as in influxdb's GNUmakefile, minus "assets"

CACHE_ROOT="${TRADELANE_CACHE:-$HOME/.cache/tradelane}"
mkdir -p "$CACHE_ROOT"
CACHE_ROOT="$(cd "$CACHE_ROOT" && pwd -P)"
BASE="$CACHE_ROOT/influxdb"
OUT_DIR="$BASE/$INFLUXDB_VERSION"
OUT="$OUT_DIR/influxd"

if [[ -x $OUT ]]; then
    echo "$OUT"
    exit 0
fi

WORK="$BASE/build/$INFLUXDB_VERSION"        # build tree (deleted on success)
LOG_DIR="$BASE/logs"
mkdir -p "$OUT_DIR" "$WORK" "$LOG_DIR"
LOG="$LOG_DIR/build-$INFLUXDB_VERSION-$(date -u +%Y%m%dT%H%M%SZ).log"
: >"$LOG"

T0=$SECONDS
CURRENT_STEP="start"

progress() {
    local msg
    msg="[build-influxd $(date -u +%H:%M:%S) +$(( (SECONDS - T0) / 60 ))m] $*"
    echo "$msg" >&2
    echo "$msg" >>"$LOG"
}

die() {
    {
        echo
        echo "build-influxd: FAILED during: $CURRENT_STEP"
        [[ $# -gt 0 ]] && echo "build-influxd: $*"
        echo "build-influxd: full log: $LOG"
        echo "---- last 40 log lines ----"
        tail -n 40 "$LOG" 2>/dev/null || true
        echo "---------------------------"
    } >&2
    exit 1
}
trap 'die "unexpected error (exit $?) at line $LINENO"' ERR

# run_step "description" cmd args...  -- output to the log, heartbeat to stderr
run_step() {
    local desc="$1"; shift
    CURRENT_STEP="$desc"
    progress "$desc"
    echo "+ $*" >>"$LOG"
    "$@" >>"$LOG" 2>&1 &
    local pid=$! start=$SECONDS next=60
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        if (( SECONDS - start >= next )); then
            progress "  ... still running: $desc ($(( (SECONDS - start) / 60 )) min)"
            next=$(( next + 60 ))
        fi
    done
    local rc=0
    wait "$pid" || rc=$?
    (( rc == 0 )) || die "command failed (exit $rc): $*"
}

# --------------------------------------------------------------- preflight --
CURRENT_STEP="preflight"
progress "building influxd $INFLUXDB_VERSION -> $OUT"
progress "log file: $LOG"

# Serialize concurrent runs for the same cache.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$BASE/.build-$INFLUXDB_VERSION.lock"
    if ! flock -n 9; then
        progress "another build holds $BASE/.build-$INFLUXDB_VERSION.lock; waiting"
        flock 9
    fi
    if [[ -x $OUT ]]; then
        progress "built meanwhile by another run"
        echo "$OUT"
        exit 0
    fi
fi

apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        progress "installing missing system packages: $*"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
          || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
        } >>"$LOG" 2>&1 || die "apt-get install $* failed"
    else
        die "missing system packages: $* (install them, e.g. apt-get install $*)"
    fi
}

for d in /usr/local/go/bin "$HOME/.cargo/bin"; do
    [[ -d $d && ":$PATH:" != *":$d:"* ]] && PATH="$PATH:$d"
done
export PATH

command -v go >/dev/null 2>&1 || die "go not found on PATH (install Go >= 1.24)"
command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (install Rust, e.g. via rustup)"
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev
command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config
SYSTEM_PKG_CONFIG="$(command -v pkg-config)"

# Go environment: private build cache inside the build tree, no toolchain
# auto-download, no workspace files or VCS stamping from the caller's cwd.
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=1 GOFLAGS="-buildvcs=false"
export GOCACHE="$WORK/gocache"
# The wrapper expects cargo output in libflux/target and finds itself via PATH.
unset PKG_CONFIG GOOS GOARCH CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

{
    echo "go: $(go version)"
    echo "cargo: $(cargo --version)"
    echo "rustc: $(rustc --version 2>&1 || true)"
    echo "cc: $( (cc --version || gcc --version) 2>&1 | head -1)"
    echo "pkg-config: $SYSTEM_PKG_CONFIG"
} >>"$LOG"
progress "toolchain: $(go version | awk '{print $3}'), $(cargo --version)"

SCRATCH="$(mktemp -d)"
cleanup_scratch() { rm -rf "$SCRATCH"; }
trap cleanup_scratch EXIT

# go_mod_dir MODULE VERSION -> prints the (read-only) module cache dir
go_mod_dir() {
    local json dir err
    json="$(cd "$SCRATCH" && GOFLAGS=-mod=mod go mod download -json "$1@$2" 2>>"$LOG")" || true
    echo "$json" >>"$LOG"
    err="$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
    dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
    [[ -z $err ]] || die "go mod download $1@$2: $err"
    [[ -n $dir && -d $dir ]] || die "go mod download $1@$2 gave no module directory"
    echo "$dir"
}

# copy_tree SRC DST -- writable copy, made atomically (marker file = complete)
copy_tree() {
    local src="$1" dst="$2"
    [[ -f $dst/.tradelane-copied ]] && return 0
    rm -rf "$dst" "$dst.tmp"
    mkdir -p "$(dirname "$dst")"
    cp -R "$src" "$dst.tmp"
    chmod -R u+w "$dst.tmp"
    touch "$dst.tmp/.tradelane-copied"
    mv "$dst.tmp" "$dst"
}

# ------------------------------------------------ 1. influxdb source module --
CURRENT_STEP="download $INFLUXDB_MODULE@$INFLUXDB_VERSION"
progress "$CURRENT_STEP (Go module proxy)"
INFLUX_MOD_DIR="$(go_mod_dir "$INFLUXDB_MODULE" "$INFLUXDB_VERSION")" || exit 1
SRC="$WORK/src"
copy_tree "$INFLUX_MOD_DIR" "$SRC"

CURRENT_STEP="check Go version"
need_go="$(awk '$1 == "go" {print $2; exit}' "$SRC/go.mod")"
have_go="$(go env GOVERSION | sed 's/^go//')"
if [[ -n $need_go ]] && [[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" != "$need_go" ]]; then
    die "influxdb $INFLUXDB_VERSION needs Go >= $need_go, this machine has $have_go"
fi

# ----------------------------------------- 2. flux module, patched for Rust --
CURRENT_STEP="resolve dependency versions"
req_version() {  # version of a module required in influxdb's go.mod
    awk -v m="$1" '($1 == m || ($1 == "require" && $2 == m)) {print ($1 == "require" ? $3 : $2); exit}' "$SRC/go.mod"
}
FLUX_VERSION="$(req_version github.com/influxdata/flux)"
PKGCONFIG_VERSION="$(req_version github.com/influxdata/pkg-config)"
[[ -n $FLUX_VERSION ]] || die "could not find github.com/influxdata/flux in $SRC/go.mod"
[[ -n $PKGCONFIG_VERSION ]] || die "could not find github.com/influxdata/pkg-config in $SRC/go.mod"
progress "flux $FLUX_VERSION, pkg-config wrapper $PKGCONFIG_VERSION"

CURRENT_STEP="download github.com/influxdata/flux@$FLUX_VERSION"
progress "$CURRENT_STEP (Go module proxy)"
FLUX_MOD_DIR="$(go_mod_dir github.com/influxdata/flux "$FLUX_VERSION")" || exit 1
# The pkg-config wrapper reads the flux version from a path ending in
# /github.com/<owner>/flux@<version>, so keep that shape.
FLUX_DIR="$WORK/flux/github.com/influxdata/flux@$FLUX_VERSION"
copy_tree "$FLUX_MOD_DIR" "$FLUX_DIR"

CURRENT_STEP="patch libflux for the current Rust toolchain"
progress "$CURRENT_STEP"
LIBFLUX="$FLUX_DIR/libflux"
[[ -f $LIBFLUX/Cargo.toml ]] || die "no libflux/Cargo.toml in $FLUX_DIR"
rm -f "$LIBFLUX/rust-toolchain.toml" "$LIBFLUX/rust-toolchain" "$FLUX_DIR/rust-toolchain.toml" "$FLUX_DIR/rust-toolchain"
for toml in "$LIBFLUX"/flux-core/Cargo.toml "$LIBFLUX"/flux/Cargo.toml; do
    [[ -f $toml ]] || continue
    # default = ["strict"] -> [] ; default = ["strict", "cffi"] -> ["cffi"]
    sed -i -E '/^default[[:space:]]*=/{s/"strict",[[:space:]]*//; s/,[[:space:]]*"strict"//; s/"strict"//}' "$toml"
done
grep -H '^default' "$LIBFLUX"/flux-core/Cargo.toml "$LIBFLUX"/flux/Cargo.toml >>"$LOG" 2>&1 || true

(cd "$SRC" && go mod edit -replace "github.com/influxdata/flux=$FLUX_DIR") || die "go mod edit -replace failed"

# ------------------------------------------------- 3. pkg-config wrapper --
BOOT_BIN="$WORK/bin"
if [[ ! -x $BOOT_BIN/pkg-config ]]; then
    run_step "go install github.com/influxdata/pkg-config@$PKGCONFIG_VERSION" \
        env -C "$SCRATCH" GOBIN="$BOOT_BIN" GOFLAGS=-buildvcs=false \
        go install "github.com/influxdata/pkg-config@$PKGCONFIG_VERSION"
fi
[[ -x $BOOT_BIN/pkg-config ]] || die "pkg-config wrapper was not installed into $BOOT_BIN"
export PATH="$BOOT_BIN:$PATH"
export PKG_CONFIG_LOG="$WORK/pkg-config-wrapper.log"

# ------------------------------------------------------- 4. libflux (Rust) --
case "$(go env GOARCH)" in
    amd64) CARGO_TRIPLE=x86_64-unknown-linux-gnu ;;
    arm64) CARGO_TRIPLE=aarch64-unknown-linux-gnu ;;
    *)     CARGO_TRIPLE="" ;;
esac
if [[ $(go env GOOS) == linux && -n $CARGO_TRIPLE ]]; then
    # Same command line and environment as the wrapper, so its later call is a no-op.
    run_step "compile libflux (Rust, cargo build --release; a few minutes)" \
        env -C "$LIBFLUX" cargo build --release --target "$CARGO_TRIPLE"
fi

# ------------------------------------------------------------ 5. influxd --
LDFLAGS="-s -w -X main.version=${INFLUXDB_VERSION#v} -X main.commit=module-${INFLUXDB_VERSION}"
LDFLAGS="$LDFLAGS -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
run_step "go build ./cmd/influxd (tags: $GO_BUILD_TAGS; links libflux via pkg-config)" \
    env -C "$SRC" go build -v -tags "$GO_BUILD_TAGS" -ldflags "$LDFLAGS" -o "$OUT.tmp" ./cmd/influxd

CURRENT_STEP="check the built binary"
"$OUT.tmp" version >>"$LOG" 2>&1 || die "the built binary does not run: $OUT.tmp version"
progress "built: $("$OUT.tmp" version)"
mv -f "$OUT.tmp" "$OUT"

if [[ ${TRADELANE_KEEP_BUILD:-0} != 1 ]]; then
    CURRENT_STEP="clean up"
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK"
    rmdir "$BASE/build" 2>/dev/null || true
fi
progress "done in $(( (SECONDS - T0) / 60 ))m$(( (SECONDS - T0) % 60 ))s: $OUT ($(du -h "$OUT" | cut -f1))"
echo "$OUT"
