#!/usr/bin/env bash
# The Debian package (docs/deployment.md): builds it with cargo-deb from the debug binary CI has
# already built, installs it with dpkg, checks what it installed (the binary's version, the system
# user, the conffile, the unit under `systemd-analyze verify`, the embedded cluster started as the
# service's user under some of the unit's restrictions), reinstalls it over a local edit, and
# purges it, checking that nothing is left. Needs root (or sudo): CI runs it on a throwaway
# machine. No network but crates.io, and that only when cargo-deb is missing.
#
#   bash tests/package/run.sh    # needs a built target/debug/marginalia (cargo build)
#
# A real release is plain `cargo deb`: a release build, stripped. Here `--no-build --profile dev`
# packages ${CARGO_TARGET_DIR:-target}/debug/marginalia instead (cargo-deb maps its
# target/release/ asset prefix to the profile's directory and warns that dev builds are not for
# release), `--strip` keeps the package small and `--fast` compresses quickly: CI has two cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO_DEB_VERSION=3.8.0
target_dir=${CARGO_TARGET_DIR:-target}
binary=$target_dir/debug/marginalia
out_dir=$target_dir/package-test
started=$SECONDS

step() { echo "package: $*"; }
fail() {
  echo "package: FAILED: $*" >&2
  exit 1
}

# Root for dpkg and for acting as the service's user; sudo when this is not root.
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  fail "installing a package needs root: run as root or install sudo"
fi
root() { "${as_root[@]}" "$@"; }

[ -x "$binary" ] || fail "$binary is missing: cargo build --bin marginalia"
for tool in dpkg dpkg-deb systemd-analyze adduser setpriv python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (apt-get install systemd adduser util-linux python3 curl)"
done
pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] || fail "PostgreSQL's server programs are missing: apt-get install postgresql"
pg_bin=$(dirname "$pg_bin")
command -v psql >/dev/null 2>&1 || fail "psql is missing: apt-get install postgresql-client"

# A package already there would be replaced and then purged: only on CI's throwaway machine.
if dpkg-query -W -f='${Status}' marginalia 2>/dev/null | grep -qv 'not-installed'; then
  [ -n "${CI:-}" ] || fail "a marginalia package is installed here; purge it first (dpkg --purge marginalia)"
  step "purging the marginalia package left on this CI machine"
  root dpkg --purge marginalia
fi

crate_version=$(awk -F'"' '/^\[/ { in_package = ($0 == "[package]") } in_package && /^version *=/ { print $2; exit }' Cargo.toml)
[ -n "$crate_version" ] || fail "cannot read the crate's version from Cargo.toml"

if [ "$(cargo deb --version 2>/dev/null || true)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  step "installing cargo-deb $CARGO_DEB_VERSION (crates.io)"
  install_started=$SECONDS
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
  step "cargo-deb installed in $((SECONDS - install_started)) s"
fi

step "building the package from $binary (cargo deb --no-build --profile dev)"
rm -rf "$out_dir"
mkdir -p "$out_dir"
build_started=$SECONDS
if ! cargo deb --no-build --profile dev --strip --fast --output "$out_dir" >"$out_dir/cargo-deb.log" 2>&1; then
  sed 's/^/  cargo-deb: /' "$out_dir/cargo-deb.log" >&2
  fail "cargo deb failed"
fi
deb=$(compgen -G "$out_dir/marginalia_*.deb" || true)
if [ -z "$deb" ] || [ "$(wc -l <<<"$deb")" -ne 1 ]; then
  fail "cargo deb made no single .deb in $out_dir"
fi
step "built $deb ($(du -h "$deb" | cut -f1)) in $((SECONDS - build_started)) s"

step "the package's version is the crate's ($crate_version-1)"
[ "$(dpkg-deb -f "$deb" Version)" = "$crate_version-1" ] || fail "Version is $(dpkg-deb -f "$deb" Version)"
step "the package holds the binary, the unit, the environment file, the helper and the docs"
contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
for path in ./usr/bin/marginalia ./usr/lib/systemd/system/marginalia.service \
  ./etc/marginalia/marginalia.env ./usr/libexec/marginalia/prepare-cluster \
  ./usr/share/doc/marginalia/README.md ./usr/share/doc/marginalia/deployment.md \
  ./usr/share/doc/marginalia/copyright; do
  grep -qx "$path" <<<"$contents" || fail "$path is not in the package"
done

service_pid=
cleanup() {
  local status=$?
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    root kill -TERM "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  if root test -f /var/lib/marginalia/postgres/postmaster.pid; then
    root setpriv --reuid=marginalia --regid=marginalia --init-groups \
      "$pg_bin/pg_ctl" stop -D /var/lib/marginalia/postgres -m immediate -s || true
  fi
  if [ $status -ne 0 ] && dpkg-query -W -f='${Status}' marginalia 2>/dev/null | grep -qv 'not-installed'; then
    echo "package: purging the package after the failure" >&2
    root dpkg --purge marginalia >/dev/null || true
  fi
}
trap cleanup EXIT

step "installing it: dpkg -i (systemd is $( [ -d /run/systemd/system ] && echo running || echo 'not running: the postinst must cope'))"
root dpkg -i "$deb"
dpkg-query -W -f='${Status}' marginalia | grep -qx 'install ok installed' || fail "dpkg does not list marginalia as installed"

step "marginalia --version runs from /usr/bin and prints the crate's version"
[ "$(command -v marginalia)" = /usr/bin/marginalia ] || fail "marginalia on PATH is $(command -v marginalia)"
version_line=$(/usr/bin/marginalia --version) || fail "/usr/bin/marginalia --version failed"
[ "$version_line" = "marginalia $crate_version" ] || fail "--version printed '$version_line', not 'marginalia $crate_version'"

step "the system user and group marginalia exist, home /var/lib/marginalia, no login shell"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd marginalia) || fail "no user marginalia"
getent group marginalia >/dev/null || fail "no group marginalia"
[ "$uid" -lt 1000 ] || fail "marginalia is not a system user (uid $uid)"
[ "$home" = /var/lib/marginalia ] || fail "marginalia's home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "marginalia's shell is $shell"
[ "$(id -gn marginalia)" = marginalia ] || fail "marginalia's primary group is $(id -gn marginalia)"

env_file=/etc/marginalia/marginalia.env
step "$env_file exists, is root:marginalia 0640 and is a conffile"
[ -f "$env_file" ] || fail "$env_file is missing"
[ "$(stat -c '%U:%G %a' "$env_file")" = "root:marginalia 640" ] || fail "$env_file is $(stat -c '%U:%G %a' "$env_file")"
dpkg-query -W -f='${Conffiles}\n' marginalia | awk '{ print $1 }' | grep -qx "$env_file" \
  || fail "$env_file is not among the conffiles: $(dpkg-query -W -f='${Conffiles}' marginalia)"
grep -q '^#DATABASE_URL=' "$env_file" || fail "$env_file does not document DATABASE_URL"

unit=$(dpkg -L marginalia | grep '/systemd/system/marginalia.service$') || fail "the package installed no marginalia.service"
step "the unit $unit is installed but neither enabled nor started"
[ ! -e /etc/systemd/system/multi-user.target.wants/marginalia.service ] || fail "the unit was enabled on install"
if [ -d /run/systemd/system ] && systemctl is-active --quiet marginalia; then
  fail "the unit was started on install"
fi

step "systemd-analyze verify $unit: no warning about the unit"
verify_status=0
verify_output=$(systemd-analyze verify "$unit" 2>&1) || verify_status=$?
while IFS= read -r line; do echo "  systemd-analyze: $line"; done <<<"${verify_output:-(no output)}"
[ $verify_status -eq 0 ] || fail "systemd-analyze verify exited $verify_status"
if grep -i 'marginalia' <<<"$verify_output" >/dev/null; then
  fail "systemd-analyze verify has something to say about the unit"
fi
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  exposure=$(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -n 1)
  step "for the record, systemd-analyze security: ${exposure#→ }"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The unit's ExecStartPre and ExecStart as its user would run them, without systemd (not PID 1
# here): as marginalia, in /var/lib/marginalia, no capabilities, no new privileges and no
# writable-and-executable memory (PR_SET_MDWE, what MemoryDenyWriteExecute=yes asks for, where
# the kernel has it: 6.3 or later), with the unit's MARGINALIA_DATA_DIR and the environment file.
service=(setpriv --reuid=marginalia --regid=marginalia --init-groups --no-new-privs
  --bounding-set=-all --inh-caps=-all
  env -i PATH=/usr/bin:/bin HOME=/var/lib/marginalia MARGINALIA_DATA_DIR=/var/lib/marginalia
  MARGINALIA_BIND="127.0.0.1:$port" MARGINALIA_WEBHOOK_LOOPBACK_ONLY=true
  sh -c 'cd /var/lib/marginalia && set -a && . /etc/marginalia/marginalia.env && set +a &&
    exec python3 -c "
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    print(\"package: (no PR_SET_MDWE in this kernel: running without it)\", file=sys.stderr)
os.execv(sys.argv[1], sys.argv[1:])
" "$@"' service)
# psql as the service's user, to the embedded cluster's socket.
cluster_psql() {
  root setpriv --reuid=marginalia --regid=marginalia --init-groups \
    psql -X -h /var/lib/marginalia/postgres -U postgres -d postgres -Atc "$1"
}

step "ExecStartPre (prepare-cluster) creates the embedded cluster as marginalia and turns JIT off"
root "${service[@]}" /usr/libexec/marginalia/prepare-cluster
pgdata=/var/lib/marginalia/postgres
[ "$(root stat -c %U "$pgdata/PG_VERSION")" = marginalia ] || fail "$pgdata is not the marginalia user's cluster"
[ "$(root grep -cx 'jit = off' "$pgdata/postgresql.conf")" -eq 1 ] || fail "$pgdata/postgresql.conf has no single 'jit = off'"
root "${service[@]}" /usr/libexec/marginalia/prepare-cluster
[ "$(root grep -cx 'jit = off' "$pgdata/postgresql.conf")" -eq 1 ] || fail "a second prepare-cluster added 'jit = off' again"

step "ExecStart (marginalia serve) serves on 127.0.0.1:$port with the embedded cluster"
# A simple command in the background, so that $! is marginalia itself (setpriv, env, sh and
# python3 each exec the next).
"${as_root[@]}" "${service[@]}" /usr/bin/marginalia serve >"$out_dir/serve.log" 2>&1 &
service_pid=$!
ready=
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$service_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$ready" ] || { sed 's/^/  serve: /' "$out_dir/serve.log" >&2; fail "marginalia serve never answered /readyz"; }
step "its PostgreSQL runs as marginalia with jit off, and a query costly enough for JIT works"
jit=$(cluster_psql 'SHOW jit') || fail "psql to the embedded cluster failed"
[ "$jit" = off ] || fail "jit is $jit in the embedded cluster"
cluster_psql 'SET jit_above_cost = 0; SELECT sum(x) FROM generate_series(1, 100000) x' >/dev/null \
  || fail "a query above jit_above_cost failed"
step "SIGTERM stops serve, which stops its cluster"
root kill -TERM "$service_pid"
serve_status=0
wait "$service_pid" || serve_status=$?
if [ $serve_status -ne 0 ]; then
  sed 's/^/  serve: /' "$out_dir/serve.log" >&2
  fail "marginalia serve exited $serve_status on SIGTERM"
fi
service_pid=
! root test -e "$pgdata/postmaster.pid" || fail "the embedded cluster still runs after serve stopped"

step "reinstalling over a local edit of $env_file keeps the edit (conffile) and the user"
echo 'MARGINALIA_NEWSROOM_NAME="Local edit"' | root tee -a "$env_file" >/dev/null
root dpkg -i "$deb" >/dev/null
grep -qx 'MARGINALIA_NEWSROOM_NAME="Local edit"' "$env_file" || fail "the reinstall replaced the edited $env_file"
[ "$(stat -c '%U:%G %a' "$env_file")" = "root:marginalia 640" ] || fail "$env_file is $(stat -c '%U:%G %a' "$env_file") after the reinstall"
[ "$(id -u marginalia)" = "$uid" ] || fail "the reinstall changed the user"

step "dpkg --purge marginalia leaves nothing behind"
root dpkg --purge marginalia
if dpkg-query -W -f='${Status}' marginalia 2>/dev/null | grep -qv 'not-installed'; then
  fail "dpkg still lists marginalia: $(dpkg-query -W -f='${Status}' marginalia)"
fi
for path in /usr/bin/marginalia "$unit" /etc/marginalia /var/lib/marginalia /usr/libexec/marginalia \
  /usr/share/doc/marginalia; do
  [ ! -e "$path" ] || fail "$path is still there after the purge"
done
! getent passwd marginalia >/dev/null || fail "the user marginalia is still there after the purge"
! getent group marginalia >/dev/null || fail "the group marginalia is still there after the purge"

step "passed in $((SECONDS - started)) s"
