#!/usr/bin/env bash
# Checks backhaul's Debian package without touching this machine's system:
#
#   * the package's metadata, file list, modes and conffiles;
#   * `dpkg -x` into a throw-away directory: the installed binary runs
#     `check-config` on the shipped examples (as shipped, and with every
#     commented-out setting switched on), the man pages render without
#     warnings (`man -l`), the completion scripts load;
#   * `systemd-analyze verify` on the installed unit (PID 1 need not be
#     systemd), and the hardening settings the issue asks for;
#   * install, upgrade (a locally changed conffile is kept), remove and
#     purge with dpkg into a throw-away root (`dpkg --root`, maintainer
#     scripts run outside a chroot with DPKG_ROOT set), with stand-ins for
#     the commands that would change this machine (adduser, getent, chown,
#     systemctl, ...) that record how the scripts called them.
#
# Usage: packaging/test-deb.sh PACKAGE.deb   (exits non-zero on a failure;
# bounded: every step has a time limit, the whole takes seconds).
set -euo pipefail

DEB=${1:?usage: test-deb.sh PACKAGE.deb}
DEB=$(readlink -f "$DEB")
T=$(mktemp -d /tmp/backhaul-test-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILED=0

ok() { printf 'ok   %s\n' "$*"; }
fail() {
    printf 'FAIL %s\n' "$*" >&2
    FAILED=1
}
# check DESCRIPTION COMMAND...: runs COMMAND (30 s at most), reports.
check() {
    local what=$1
    shift
    if timeout 30s "$@" >"$T/out" 2>&1; then
        ok "$what"
    else
        fail "$what: $(tail -20 "$T/out")"
    fi
}

# ---------------------------------------------------------------------------
# metadata and contents

dpkg-deb --field "$DEB" Package Version Architecture Depends >"$T/fields"
grep -qx 'Package: backhaul' "$T/fields" && ok "package name" || fail "package name: $(cat "$T/fields")"
grep -q '^Depends:.*adduser' "$T/fields" && ok "depends on adduser" || fail "Depends lacks adduser"

dpkg-deb --contents "$DEB" | awk '{print $1, $6}' | sed 's| \./| /|' >"$T/contents"
for entry in \
    "-rwxr-xr-x /usr/bin/backhaul" \
    "-rw-r--r-- /usr/lib/systemd/system/backhaul.service" \
    "-rw-r--r-- /etc/backhaul/netdata.conf" \
    "-rw-r----- /etc/backhaul/exporting.conf" \
    "-rw-r--r-- /etc/backhaul/stream.conf" \
    "-rw-r--r-- /etc/logrotate.d/backhaul" \
    "-rw-r--r-- /usr/share/man/man1/backhaul.1.gz" \
    "-rw-r--r-- /usr/share/man/man1/backhaul-check-config.1.gz" \
    "-rw-r--r-- /usr/share/bash-completion/completions/backhaul" \
    "-rw-r--r-- /usr/share/zsh/vendor-completions/_backhaul" \
    "-rw-r--r-- /usr/share/fish/vendor_completions.d/backhaul.fish" \
    "-rw-r--r-- /usr/share/doc/backhaul/copyright"; do
    grep -qxF -- "$entry" "$T/contents" && ok "ships $entry" || fail "does not ship $entry"
done

dpkg-deb --ctrl-tarfile "$DEB" | tar -x -O ./conffiles >"$T/conffiles"
for conffile in /etc/backhaul/netdata.conf /etc/backhaul/exporting.conf /etc/backhaul/stream.conf /etc/logrotate.d/backhaul; do
    grep -qxF "$conffile" "$T/conffiles" && ok "conffile $conffile" || fail "$conffile is not a conffile"
done

# ---------------------------------------------------------------------------
# the files, extracted

X=$T/x
mkdir -p "$X"
dpkg -x "$DEB" "$X"
BIN=$X/usr/bin/backhaul
check "the binary runs (--version)" "$BIN" --version
if "$BIN" --help | grep -q generate; then fail "--help shows the hidden 'generate'"; else ok "--help hides 'generate'"; fi
if readelf --sections "$BIN" | grep -q '\.debug_info'; then fail "the binary carries debug info"; else ok "no debug info in the binary"; fi

# check-config on the examples as shipped: exit 0, no warning (only the
# lines that say where the web and statsd servers listen).
if timeout 30s "$BIN" check-config --config "$X/etc/backhaul/netdata.conf" \
    --exporting-config "$X/etc/backhaul/exporting.conf" >"$T/cc.out" 2>"$T/cc.err" &&
    ! grep -qvE '^(web|statsd) server: ' "$T/cc.err" && grep -q '^web server: http on .*:19999' "$T/cc.err"; then
    ok "check-config on the shipped examples ($(wc -l <"$T/cc.out") instances listed)"
else
    fail "check-config on the shipped examples: $(cat "$T/cc.out" "$T/cc.err")"
fi
grep -q 'enabled=yes' "$T/cc.out" && fail "an example instance is enabled" || ok "every example instance is disabled"

# Every commented-out `key = value` switched on: still valid, no key
# unknown (CAfile/CApath name files that exist on no test machine).
uncomment() { sed -E 's/^([[:space:]]+)# ([A-Za-z/][^=]* = .*)$/\1\2/' "$1"; }
uncomment "$X/etc/backhaul/netdata.conf" >"$T/netdata.conf"
uncomment "$X/etc/backhaul/exporting.conf" | grep -vE '^[[:space:]]*CA(file|path) = ' |
    sed -E 's/^([[:space:]]*)enabled = no$/\1enabled = yes/' >"$T/exporting.conf"
if timeout 30s "$BIN" check-config --config "$T/netdata.conf" --exporting-config "$T/exporting.conf" \
    >"$T/cc2.out" 2>"$T/cc2.err"; then
    if grep -qi 'unknown' "$T/cc2.err"; then
        fail "an example key is unknown: $(grep -i unknown "$T/cc2.err")"
    else
        ok "check-config with every example setting on ($(grep -c 'enabled=yes' "$T/cc2.out") instances enabled)"
    fi
else
    fail "check-config with every example setting on: $(cat "$T/cc2.out" "$T/cc2.err")"
fi

# Man pages: render, and groff finds nothing to warn about.
for page in "$X"/usr/share/man/man1/*.1.gz; do
    name=$(basename "$page")
    if MANWIDTH=80 timeout 30s man -l "$page" >"$T/man.txt" 2>"$T/man.err" &&
        [ ! -s "$T/man.err" ] && [ -s "$T/man.txt" ]; then
        ok "man -l $name"
    else
        fail "man -l $name: $(cat "$T/man.err")"
    fi
done
MANWIDTH=80 man -l "$X/usr/share/man/man1/backhaul.1.gz" 2>/dev/null >"$T/man.txt"
for section in SYNOPSIS OPTIONS SUBCOMMANDS FILES LOGS SIGNALS; do
    grep -q "^$section" "$T/man.txt" && ok "backhaul(1) has $section" || fail "backhaul(1) lacks $section"
done

# Completions: bash loads them and completes the subcommands.
check "bash completion loads" bash -c \
    "source '$X/usr/share/bash-completion/completions/backhaul' && complete -p backhaul"
bash -c "source '$X/usr/share/bash-completion/completions/backhaul'
COMP_WORDS=(backhaul che); COMP_CWORD=1; COMP_LINE='backhaul che'; COMP_POINT=\${#COMP_LINE}
_backhaul backhaul che backhaul; printf '%s\n' \"\${COMPREPLY[@]}\"" >"$T/compreply" 2>&1 || true
grep -qx 'check-config' "$T/compreply" && ok "bash completes 'che' to check-config" ||
    fail "bash completion of 'che': $(cat "$T/compreply")"
if command -v zsh >/dev/null; then
    check "zsh completion parses" zsh -n "$X/usr/share/zsh/vendor-completions/_backhaul"
else
    echo "skip zsh completion (zsh not installed)"
fi
if command -v fish >/dev/null; then
    check "fish completion parses" fish --no-execute "$X/usr/share/fish/vendor_completions.d/backhaul.fish"
else
    echo "skip fish completion (fish not installed)"
fi

# ---------------------------------------------------------------------------
# the unit

UNIT=$X/usr/lib/systemd/system/backhaul.service
if command -v systemd-analyze >/dev/null; then
    # Against this machine's systemd, with ExecStart pointing at the
    # extracted binary (verify checks that it is executable).
    mkdir -p "$T/unit"
    sed "s|^ExecStart=/usr/bin/backhaul |ExecStart=$BIN |" "$UNIT" >"$T/unit/backhaul.service"
    # Unknown keys are only warnings: any output is a failure.
    if timeout 30s systemd-analyze verify --man=no --generators=no "$T/unit/backhaul.service" >"$T/out" 2>&1 &&
        [ ! -s "$T/out" ]; then
        ok "systemd-analyze verify backhaul.service"
    else
        fail "systemd-analyze verify backhaul.service: $(cat "$T/out")"
    fi
else
    echo "skip systemd-analyze verify (install the package systemd)"
fi
for line in \
    "ExecStart=/usr/bin/backhaul --config /etc/backhaul/netdata.conf" \
    "ExecReload=/bin/kill -HUP \$MAINPID" \
    "User=backhaul" \
    "Restart=on-failure" \
    "ProtectSystem=full" \
    "ProtectHome=yes" \
    "PrivateTmp=yes" \
    "StateDirectory=backhaul" \
    "LogsDirectory=backhaul" \
    "CacheDirectory=backhaul"; do
    grep -qxF -- "$line" "$UNIT" && ok "unit: $line" || fail "unit lacks $line"
done
# apps.plugin's file capabilities need these off.
for forbidden in NoNewPrivileges=yes NoNewPrivileges=true ProtectKernelTunables=yes ProtectProc=invisible \
    PrivateUsers=yes CapabilityBoundingSet= DynamicUser=yes; do
    grep -qiF -- "$forbidden" "$UNIT" && fail "unit sets $forbidden" || ok "unit does not set $forbidden"
done

if command -v logrotate >/dev/null; then
    sed "s|/var/log/backhaul|$T/log|" "$X/etc/logrotate.d/backhaul" >"$T/logrotate.conf"
    check "logrotate reads its file" logrotate --debug --state "$T/logrotate.state" "$T/logrotate.conf"
else
    echo "skip logrotate (not installed)"
fi

# ---------------------------------------------------------------------------
# install, upgrade, remove, purge into a throw-away root

R=$T/root
STUBS=$T/stubs
STATE=$T/state
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$STUBS" "$STATE"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
# Stand-ins: record the call; getent knows the user once adduser made it,
# and the group netdata when STUB_NETDATA=yes.
for cmd in adduser addgroup getent chown chmod dpkg-statoverride deb-systemd-helper deb-systemd-invoke systemctl; do
    cat >"$STUBS/$cmd" <<EOF
#!/bin/sh
echo "$cmd \$*" >>"$STATE/calls"
case "$cmd \$*" in
"adduser --system"*) touch "$STATE/user" ;;
"getent passwd backhaul") [ -e "$STATE/user" ] || exit 2 ;;
"getent group netdata") [ "\${STUB_NETDATA:-}" = yes ] || exit 2 ;;
"getent "*) exit 2 ;;
"dpkg-statoverride "*) exit 1 ;;
"deb-systemd-helper --quiet was-enabled "*) exit 1 ;;
"deb-systemd-helper debian-installed "*) exit 1 ;;
esac
exit 0
EOF
    chmod 755 "$STUBS/$cmd"
done
dpkg_root() {
    PATH=$STUBS:$PATH timeout 60s dpkg --root="$R" --force-script-chrootless --force-depends \
        --force-confold --no-triggers --log="$T/dpkg.log" "$@"
}
calls() { cat "$STATE/calls" 2>/dev/null; }

: >"$STATE/calls"
if STUB_NETDATA=yes dpkg_root -i "$DEB" >"$T/out" 2>&1; then
    ok "dpkg --root -i"
else
    fail "dpkg --root -i: $(tail -20 "$T/out")"
fi
[ -x "$R/usr/bin/backhaul" ] && ok "installed /usr/bin/backhaul" || fail "no /usr/bin/backhaul in the root"
calls | grep -q '^adduser --system --group .* backhaul$' && ok "postinst adds the system user" ||
    fail "postinst did not add the user: $(calls)"
calls | grep -qx 'adduser --quiet backhaul netdata' && ok "postinst adds backhaul to netdata" ||
    fail "postinst did not add backhaul to netdata: $(calls)"
calls | grep -q '^chown root:backhaul .*/etc/backhaul/exporting.conf$' && ok "postinst gives exporting.conf to group backhaul" ||
    fail "postinst chown: $(calls)"
calls | grep -q '^deb-systemd-helper enable' && fail "the unit was enabled on install" || ok "the unit is not enabled on install"
check "the installed binary runs check-config" "$R/usr/bin/backhaul" check-config \
    --config "$R/etc/backhaul/netdata.conf" --exporting-config "$R/etc/backhaul/exporting.conf"

# Upgrade to a rebuilt 0.1.0-9 with a locally changed conffile: kept, and
# the user is not added again.
echo "# local change" >>"$R/etc/backhaul/exporting.conf"
dpkg-deb -R "$DEB" "$T/repack"
sed -i 's/^Version: .*/Version: 0.1.0-9/' "$T/repack/DEBIAN/control"
dpkg-deb --root-owner-group -b "$T/repack" "$T/upgrade.deb" >/dev/null
: >"$STATE/calls"
if dpkg_root -i "$T/upgrade.deb" >"$T/out" 2>&1; then ok "dpkg --root -i (upgrade)"; else fail "upgrade: $(tail -20 "$T/out")"; fi
grep -q '^# local change$' "$R/etc/backhaul/exporting.conf" && ok "upgrade keeps a changed conffile" ||
    fail "upgrade lost the local change"
calls | grep -q '^adduser --system' && fail "upgrade added the user again" || ok "upgrade does not add the user again"
grep -q 'status installed backhaul:amd64 0.1.0-9\|status installed backhaul 0.1.0-9' "$T/dpkg.log" &&
    ok "0.1.0-9 installed" || fail "0.1.0-9 not installed: $(tail -5 "$T/dpkg.log")"

# Remove: binary gone, conffiles stay; purge: conffiles and state gone.
mkdir -p "$R/var/lib/backhaul" "$R/var/log/backhaul"
if dpkg_root -r backhaul >"$T/out" 2>&1; then ok "dpkg --root -r"; else fail "remove: $(tail -20 "$T/out")"; fi
[ ! -e "$R/usr/bin/backhaul" ] && ok "remove deletes the binary" || fail "binary left after remove"
[ -e "$R/etc/backhaul/netdata.conf" ] && ok "remove keeps the conffiles" || fail "remove deleted the conffiles"
if dpkg_root -P backhaul >"$T/out" 2>&1; then ok "dpkg --root -P"; else fail "purge: $(tail -20 "$T/out")"; fi
[ ! -e "$R/etc/backhaul/netdata.conf" ] && ok "purge deletes the conffiles" || fail "conffiles left after purge"
[ ! -e "$R/var/lib/backhaul" ] && [ ! -e "$R/var/log/backhaul" ] && ok "purge deletes state and logs" ||
    fail "state or logs left after purge"

if [ "$FAILED" -ne 0 ]; then
    echo "test-deb.sh: FAILED" >&2
    exit 1
fi
echo "test-deb.sh: all checks passed"
