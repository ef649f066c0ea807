"""`vh-runner install-shim` and `uninstall-shim` (docs/admin.md) on the
real build trees of both generations: they find every wrapper file the
plugin loads (for B the build-tree copy it tries first and the installed
one), put the shim there by write + rename with the original kept as
`.orig`, and put the originals back. (The other tests swap the wrapper
with their own write + rename, hubs.install_wrapper, so that an
interrupted run can always go back to the originals kept in
target/realhub/<gen>-<hash>/orig/.)"""

from __future__ import annotations

import os
import subprocess

import hubs


def cli(built, *args):
    env = dict(os.environ, LD_LIBRARY_PATH=built.ld_library_path)
    return subprocess.run(
        [str(hubs.RUNNER_PATH), *args, "--plugin", str(built.prefix / "lib" / "libpython_pi.so")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_install_and_uninstall_shim_swap_every_wrapper_file(gen_env):
    built = gen_env.built
    hubs.install_wrapper(built, "inproc", hubs.SHIM_PATH)
    paths = hubs.wrapper_paths(built)
    originals = {p: p.read_bytes() for p in paths}
    shim = hubs.SHIM_PATH.read_bytes()
    assert all(body != shim for body in originals.values())
    inodes = {p: p.stat().st_ino for p in paths}
    try:
        r = cli(built, "install-shim", "--shim", str(hubs.SHIM_PATH))
        assert r.returncode == 0, r.stdout + r.stderr
        for p in paths:
            assert str(p) in r.stdout, r.stdout
            assert p.read_bytes() == shim, p
            # a new file renamed over the old name, the original kept as .orig
            assert p.stat().st_ino != inodes[p]
            orig = p.with_name(p.name + ".orig")
            assert orig.read_bytes() == originals[p]
        again = cli(built, "install-shim", "--shim", str(hubs.SHIM_PATH))
        assert again.returncode == 0 and "already in place" in again.stdout, again.stdout
    finally:
        r = cli(built, "uninstall-shim")
    assert r.returncode == 0, r.stdout + r.stderr
    for p in paths:
        assert p.read_bytes() == originals[p], p
        assert not p.with_name(p.name + ".orig").exists()
