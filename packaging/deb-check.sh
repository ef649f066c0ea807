#!/usr/bin/env bash
# Checks a built vh-runner .deb, as CI does after `make deb`:
#   1. its contents (runner, shim, the vh package with its subfolders, unit,
#      conffile, maintainer script);
#   2. the packaged runner and shim run from an unpacked copy (dpkg-deb -x):
#      the runner serves with the system python3, whose workers import vh
#      from the unpacked /usr/lib/vh-runner/python (python_path default);
#      hubsim drives the unpacked shim through a short replay with greeter.py;
#      `doctor` finds vh; SIGTERM stops the runner with exit 0;
#   3. the unit passes `systemd-analyze verify` where systemd is installed.
# Usage: packaging/deb-check.sh target/debian/vh-runner_*.deb [HUBSIM]
set -euo pipefail
deb=$1
hubsim=${2:-target/debug/hubsim}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
runner_pid=
cleanup() {
    if [ -n "$runner_pid" ]; then kill -9 "$runner_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deb-check: $*" >&2; exit 1; }

echo "deb-check: $deb"
dpkg-deb -c "$deb" | awk '{print $NF}' > "$work/contents"
for f in ./usr/bin/vh-runner \
         ./usr/lib/vh-runner/libvh_python_wrapper.so \
         ./usr/lib/vh-runner/python/vh/__init__.py \
         ./usr/lib/vh-runner/python/vh/worker.py \
         ./usr/lib/vh-runner/python/vh/_fake/hub.py \
         ./etc/vh-runner/runner.toml \
         ./usr/share/doc/vh-runner/admin.md; do
    grep -qxF "$f" "$work/contents" || fail "missing $f"
done
grep -qE '^\./usr/lib/vh-runner/python/vh/_core\..*so$' "$work/contents" || fail "missing the vh._core extension"
grep -qE '^\./(usr/)?lib/systemd/system/vh-runner\.service$' "$work/contents" || fail "missing the systemd unit"
mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
grep -qxF /etc/vh-runner/runner.toml "$work/control/conffiles" || fail "runner.toml is not a conffile"
grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the verlihub user"
grep -q 'Depends:.*python3' "$work/control/control" || fail "no python3 dependency"
echo "deb-check: contents ok ($(wc -l < "$work/contents") entries)"

root="$work/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/vh-runner" --version
sock="$work/runner.sock"
python3 -c 'import vh' 2>/dev/null && echo "deb-check: note: this python3 has its own vh; the check still uses the packaged one first"
"$root/usr/bin/vh-runner" serve --socket "$sock" --python python3 \
    --config "$root/etc/vh-runner/runner.toml" 2> "$work/runner.log" &
runner_pid=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$work/runner.log"; fail "the packaged runner did not listen"; }
VH_RUNNER_SOCKET="$sock" "$hubsim" --encoding CP1251 \
    --shim "$root/usr/lib/vh-runner/libvh_python_wrapper.so" \
    --script "$repo/examples/greeter.py" \
    "$repo/examples/sessions/2007-01-11_12.short.transcript" > "$work/hub.out" 2>&1 \
    || { cat "$work/hub.out" "$work/runner.log"; fail "hubsim with the packaged shim failed"; }
grep -q 'script loaded' "$work/runner.log" || { cat "$work/runner.log"; fail "greeter.py did not load in the packaged runner"; }
grep -qi 'welcome' "$work/hub.out" || { tail -20 "$work/hub.out"; fail "no greeting from greeter.py through the packaged shim"; }
grep -q "vh-runner/python/vh" <("$root/usr/bin/vh-runner" doctor --socket "$sock" --python python3 \
    --config "$root/etc/vh-runner/runner.toml" 2>&1 || true) \
    || fail "doctor: python3 does not import vh from the unpacked package"
kill -TERM "$runner_pid"
status=0
wait "$runner_pid" || status=$?
runner_pid=
[ "$status" = 0 ] || { cat "$work/runner.log"; fail "the packaged runner exited $status on SIGTERM"; }
grep -q 'vh-runner stopped' "$work/runner.log" || fail "no clean stop in the runner log"
echo "deb-check: the unpacked runner and shim run (greeter.py answered; SIGTERM exit 0)"

# install-shim from the unpacked copy finds its shim in ../lib/vh-runner.
if command -v gcc >/dev/null 2>&1; then
    plug="$work/plugin"
    mkdir -p "$plug"
    printf 'int w_Begin(void *c){(void)c;return 1;}\nint w_Load(void *a){(void)a;return 0;}\nvoid *w_CallHook(int i,int h,void *p){(void)i;(void)h;return p;}\n' > "$work/w.c"
    gcc -shared -fPIC -o "$plug/libvh_python_wrapper.so" "$work/w.c"
    printf '__attribute__((used)) const char *p = "%s/libvh_python_wrapper.so";\n' "$plug" > "$work/p.c"
    gcc -shared -fPIC -o "$plug/libpython_pi.so" "$work/p.c"
    "$root/usr/bin/vh-runner" install-shim --plugin "$plug"
    cmp -s "$plug/libvh_python_wrapper.so" "$root/usr/lib/vh-runner/libvh_python_wrapper.so" \
        || fail "install-shim did not put the packaged shim in place"
    "$root/usr/bin/vh-runner" uninstall-shim --plugin "$plug" >/dev/null
    echo "deb-check: the unpacked install-shim uses the packaged shim"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
    unit=$(find "$root" -name vh-runner.service | head -1)
    # verify checks that ExecStart exists: point it at the unpacked copy.
    sed "s|/usr/bin/vh-runner|$root/usr/bin/vh-runner|" "$unit" > "$work/vh-runner.service"
    # A warning about the unit (an unknown key, a key in the wrong section)
    # fails the check too; messages about the machine itself do not.
    systemd-analyze verify "$work/vh-runner.service" 2>&1 | tee "$work/verify.out"
    ! grep -q 'vh-runner.service' "$work/verify.out" || fail "systemd-analyze verify warns about the unit"
    echo "deb-check: systemd-analyze verify ok"
else
    [ "${CI:-}" != true ] || fail "systemd-analyze is missing (CI installs systemd)"
    echo "deb-check: no systemd-analyze here; unit not verified"
fi
echo "deb-check: all ok"
