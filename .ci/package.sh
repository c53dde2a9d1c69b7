#!/usr/bin/env bash
# Packaging checks: the systemd unit's hardening, and a .deb built with the real cargo-deb
# metadata of Cargo.toml, holding the binary, unit, system user, example config and dashboard.
#
#   .ci/package.sh
#
# CI builds no release binary (a fat-LTO build takes far longer than everything else), so the
# .deb here packs the debug build that .ci/run has just made (`cargo build --locked --bin nexus`),
# stripped: the package's layout and maintainer scripts are what this checks, and they do not
# depend on the profile. A release package is `cargo deb` (README.md, Install).
#
# Runs as root on Debian; installs what it lacks: systemd (for systemd-analyze) from Debian, and
# cargo-deb from crates.io (a pinned version, built once into ~/.cargo/bin, ~2 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/nexus-ci-target}"
CARGO_DEB_VERSION=3.8.0

fail() {
    echo "package.sh: $*" >&2
    exit 1
}

echo "-- systemd-analyze security: packaging/nexus.service must rate 2.0 or better (OK)"
if ! command -v systemd-analyze >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
# --threshold counts tenths: 20 is an exposure of 2.0.
report="$(systemd-analyze security --offline=true --threshold=20 packaging/nexus.service)" \
    || { echo "$report" | grep '✗' >&2 || true; fail "the unit's exposure is over 2.0"; }
verdict="$(echo "$report" | grep 'Overall exposure level')"
echo "$verdict"
[[ "$verdict" == *" OK "* || "$verdict" == *" OK" ]] || fail "the unit is not rated OK"

echo "-- cargo deb"
if [[ "$(cargo deb --version 2>/dev/null)" != *"$CARGO_DEB_VERSION"* ]]; then
    # Its own temporary target dir: the CI's target dir keeps only this project's builds.
    env -u CARGO_TARGET_DIR cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
[[ -x "$CARGO_TARGET_DIR/debug/nexus" ]] || fail "no debug build at $CARGO_TARGET_DIR/debug/nexus"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/nexus-deb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# cargo-deb warns that the dev profile is not for releases, which is the point here: its output
# is shown only if it fails.
cargo deb --no-build --profile dev --strip --fast --output "$WORK/nexus.deb" \
    >"$WORK/cargo-deb.log" 2>&1 || { cat "$WORK/cargo-deb.log" >&2; fail "cargo deb failed"; }
[[ -s "$WORK/nexus.deb" ]] || fail "cargo deb made no package"

contents="$(dpkg-deb --contents "$WORK/nexus.deb" | awk '{print $NF}')"
for path in \
    ./usr/bin/nexus \
    ./usr/lib/systemd/system/nexus.service \
    ./usr/lib/sysusers.d/nexus.conf \
    ./etc/nexus/nexus.toml \
    ./usr/share/nexus/grafana/nexus-dashboard.json \
    ./usr/share/doc/nexus/README.md; do
    grep -qxF "$path" <<<"$contents" || {
        echo "$contents" >&2
        fail "the package lacks $path"
    }
done
dpkg-deb --extract "$WORK/nexus.deb" "$WORK/root"
cmp packaging/nexus.service "$WORK/root/usr/lib/systemd/system/nexus.service" \
    || fail "the packaged unit differs from packaging/nexus.service"
cmp config/nexus.toml "$WORK/root/etc/nexus/nexus.toml" \
    || fail "the packaged config differs from config/nexus.toml"
"$WORK/root/usr/bin/nexus" --version >/dev/null || fail "the packaged binary does not run"

dpkg-deb --control "$WORK/nexus.deb" "$WORK/control"
grep -qxF /etc/nexus/nexus.toml "$WORK/control/conffiles" \
    || fail "/etc/nexus/nexus.toml is not a conffile (an upgrade would overwrite local edits)"
grep -q 'systemd-sysusers' "$WORK/control/postinst" || fail "postinst does not create the user"
grep -q 'nexus.service' "$WORK/control/postinst" || fail "postinst does not enable the unit"
grep -q 'nexus.service' "$WORK/control/prerm" || fail "prerm does not stop the unit"
grep -q '^Depends:.*systemd' "$WORK/control/control" || fail "the package does not depend on systemd"
echo "package ok: $(dpkg-deb --field "$WORK/nexus.deb" Package Version Architecture | tr '\n' ' ')"
