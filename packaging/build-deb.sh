#!/usr/bin/env bash
# Builds backhaul's Debian package with cargo-deb:
#   1. the release binary (no debug info: [profile.release]);
#   2. the man pages and shell completions, written by the binary itself
#      (`backhaul generate man|completions`, hidden from --help) into
#      packaging/generated/;
#   3. `cargo deb --no-build`, with the metadata of crates/backhaul/Cargo.toml
#      ([package.metadata.deb]): the binary, the unit, /etc/backhaul, the man
#      pages, completions, logrotate, maintainer scripts.
# Prints the path of the .deb as its last line. Needs cargo-deb
# (`cargo install cargo-deb --locked`). Honours CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac

if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb.sh: cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
fi

cargo build --release --locked -p backhaul >&2
BIN=$TARGET_DIR/release/backhaul

GEN=packaging/generated
rm -rf "$GEN"
"$BIN" generate man "$GEN/man" >&2
for shell in bash zsh fish; do
    "$BIN" generate completions "$shell" "$GEN/completions" >&2
done

mkdir -p "$TARGET_DIR/debian"
cargo deb --locked -p backhaul --no-build --output "$TARGET_DIR/debian/" >&2
deb=$(ls -t "$TARGET_DIR"/debian/backhaul_*.deb | head -1)
echo "$deb"
