"""Bench on the real hub: main-chat lines answered with one vh.usermc, the
script in-process (the plugin's own wrapper) and through vh-runner (shim
and runner), for both generations; µs per line and the ratio.

    VERLIHUB_SRC_A=... VERLIHUB_SRC_B=... VH_REALHUB_PROFILE=release \\
        VH_TEST_PYTHON=target/bench-venv/bin/python python tests/realhub/bench.py

(`make realhub-bench` does this after `make bench-venv`.) One client sends
a line and waits for its answer before the next: each line is a full round
trip client -> hub -> script -> hub -> client, over loopback TCP. A run
without any script gives the hub's own share. Lines per mode: --lines;
the hub's adv_step_delay: --step-delay (0 by default, see below).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hubs  # noqa: E402
import vhbuild  # noqa: E402
from session import OP, OP_PASS, SCRIPTS, Env, Session  # noqa: E402


async def chat_round_trips(s: Session, n: int, warmup: int, answered: bool) -> list[float]:
    op = await s.login(OP, OP_PASS)
    await s.barrier(op, "start")
    times = []
    for i in range(warmup + n):
        tag = str(i).encode()
        start = len(op.received)
        t = time.perf_counter()
        op.chat(b".b " + tag)
        # with a script: its answer; without: the hub's echo of the line
        want = b"<VerliHub> ok " + tag if answered else b"<op> .b " + tag
        await op.wait_for(lambda m, w=want: m == w, 30, start)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def run_mode(env: Env, mode: str, script: Path | None, n: int, warmup: int) -> dict:
    scripts = [script] if script else []
    s = Session(
        env,
        "runner" if mode == "runner" else "inproc",
        f"bench-{mode}",
        scripts,
        hook_deadline_ms=2000,
    )

    async def go():
        async with s:
            return await chat_round_trips(s, n, warmup, script is not None)

    t = asyncio.run(go())
    us = sorted(x * 1e6 for x in t)
    return {
        "mode": mode,
        "lines": n,
        "mean_us": statistics.fmean(us),
        "p50_us": us[len(us) // 2],
        "p99_us": us[int(len(us) * 0.99)],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--gens", default="A,B")
    ap.add_argument("--json", type=Path)
    # the hub's main loop sleeps adv_step_delay ms (default 50) after each
    # round of its sockets: a line then takes 50 ms whatever the script
    # does. 0 (the bench's default) leaves the poll (adv_conn_choose_timeout,
    # 10 ms) as the only wait, so the script's cost shows.
    ap.add_argument("--step-delay", default="0")
    args = ap.parse_args()
    python = Path(os.environ.get("VH_TEST_PYTHON") or vhbuild.REPO / ".venv/bin/python")
    py27 = vhbuild.pyenv_27()
    python2 = Path(os.environ.get("VH_TEST_PYTHON2") or (py27 / "bin/python2.7" if py27 else ""))
    db = hubs.MariaDB()
    results = []
    try:
        db.start()
        for gen in args.gens.split(","):
            built = vhbuild.build(gen)
            if built is None:
                print(f"bench: no VERLIHUB_SRC_{gen}, skipped", file=sys.stderr)
                continue
            work = vhbuild.TARGET / "work" / f"bench-{gen}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            tpl = hubs.HubTemplate(
                built, db, work, OP, OP_PASS, {"adv_step_delay": args.step_delay}
            )
            tpl.create()
            env = Env(built, tpl, python, python2)
            script = SCRIPTS / "bench" / ("bench_py2.py2" if gen == "A" else "bench_py3.py")
            row = {"gen": gen}
            for mode, sc in (("no script", None), ("inproc", script), ("runner", script)):
                r = run_mode(env, mode, sc, args.lines, args.warmup)
                row[mode] = r
                print(
                    f"{gen} {mode:9} mean {r['mean_us']:8.1f} µs  p50 {r['p50_us']:8.1f} µs"
                    f"  p99 {r['p99_us']:8.1f} µs  ({args.lines} lines)",
                    flush=True,
                )
            ratio = row["runner"]["p50_us"] / row["inproc"]["p50_us"]
            added = row["runner"]["p50_us"] - row["inproc"]["p50_us"]
            row["ratio_p50"] = ratio
            row["added_p50_us"] = added
            print(
                f"{gen} vh-runner / in-process: p50 {ratio:.2f}x per line, {added:+.1f} µs",
                flush=True,
            )
            results.append(row)
    finally:
        db.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
