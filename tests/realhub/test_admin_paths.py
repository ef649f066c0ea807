"""An operator's paths on the real hub, in-process and through vh-runner,
both generations, compared byte for byte: a kick (`$Kick`, the hooks of
the kicked user's close), `!pyreload` from a client (the script's module
state starts again, its `UnLoad()` runs where the plugin runs it), a
`!pyload` of a script that fails at import, the timer (a Python 2
`OnTimer()` without a parameter under A, docs/abi.md §7.6; B's float),
and `vh.StopHub` (A stops the hub with the exit code;
B's always returns False, docs/abi.md §7.4).

Scripts: 10_record_hooks of the generation (every hook with arguments and
result) and scripts/admin/admin_<gen> (what the script itself sees).
"""

from __future__ import annotations

import asyncio

import pytest
from compare import assert_clients_same, assert_same, lines
from session import OP, OP_PASS, SCRIPTS, Session, gen_scripts


def admin_script(gen: str):
    return SCRIPTS / "admin" / ("admin_a.py2" if gen == "A" else "admin_b.py")


async def admin_session(s: Session, gen: str) -> None:
    op = await s.login(OP, OP_PASS)
    plain = await s.login(b"plain")
    await s.login(b"watcher")  # a bystander of the kick
    await s.barrier(op, "logins")
    plain.chat(b"one line")
    await s.barrier(plain, "plain-chat")
    op.chat(b".lines")
    await s.barrier(op, "lines-before")
    # the timer: the hub's main loop calls OnTimer every second
    await s.wait_output("admin.txt", "'OnTimer'", timeout=30)
    # an operator's kick as DC clients send it: the chat line the hub reads
    # as a kick with a reason (OnOperatorKicks, a temporary ban), then
    # $Kick, which redirects the kicked user. The hub closes the kicked
    # connection the next time it writes to it (here the barrier's line;
    # found by trying: nothing else closes it, not in 90 s) and sends the
    # others no $Quit for it: wait for the script's OnUserLogout.
    plain.expect_close = True
    op.chat(b"op is kicking plain because: testing kicks")
    op.send(b"$Kick plain|")
    await plain.wait_for(lambda m: m.startswith(b"$ForceMove "), 30)
    await s.barrier(op, "kick")
    await s.wait_output("admin.txt", "'OnUserLogout'\t'plain'")
    # !pyreload from a client: UnLoad (A), import again, state from zero
    path = s.dir / "scripts" / (admin_script(gen).stem + ".py")
    op.chat(b"!pyreload " + str(path).encode())
    await s.barrier(op, "pyreload", timeout=60)
    await s.wait_output("admin.txt", "'import'\n", timeout=30)
    op.chat(b".lines")
    await s.barrier(op, "lines-after")
    # a script that fails at import, loaded from a client: the operator
    # gets the plugin's own answer in both modes
    broken = s.dir / "scripts" / "broken.py"
    broken.write_bytes(b"x = 1 / 0\n")
    op.chat(b"!pyload " + str(broken).encode())
    await s.barrier(op, "pyload-broken", timeout=60)
    # vh.StopHub last: under A the hub stops at its next turn with code 3;
    # B's always returned False and the hub ran on, where vh-runner stops
    # it (a listed departure)
    op.chat(b".stophub")
    if gen == "A" or s.mode == "runner":
        await asyncio.to_thread(s.hub.proc.wait, 30)
    else:
        await s.barrier(op, "stophub")


def run(env, mode: str):
    gen = env.built.gen
    scripts = [x for x in gen_scripts(gen) if x.name.startswith("10_")]
    s = Session(env, mode, "admin", scripts + [admin_script(gen)])

    async def go():
        async with s:
            await admin_session(s, gen)

    asyncio.run(go())
    return s.result


@pytest.fixture(scope="module")
def admin_pair(gen_env):
    return gen_env.built.gen, run(gen_env, "inproc"), run(gen_env, "runner")


def until_stophub(gen: str, records: list, marker) -> list:
    """Under B, what came before the `.stophub` line: from there on the
    in-process hub ran on (B's StopHub always gave False) and the one
    through vh-runner stopped, a listed departure (docs/compatibility.md,
    "StopHub"); the stops themselves differ by design."""
    if gen != "B":
        return records
    cut = [i for i, x in enumerate(records) if marker in x]
    return records[: cut[0]] if cut else records


def without_unload(gen: str, inproc: list[str], runner: list[str]) -> list[str]:
    """B never called a script's UnLoad() (docs/compatibility.md,
    "UnLoad"); vh-runner calls it, here at !pyreload."""
    if gen != "B":
        return runner
    assert not [x for x in inproc if x.startswith("'UnLoad'")]
    unload = [x for x in runner if x.startswith("'UnLoad'")]
    assert unload == ["'UnLoad'\t6"], runner
    return [x for x in runner if not x.startswith("'UnLoad'")]


def reloaded_id(inproc: list[bytes], runner: list[bytes]) -> list[bytes]:
    """A's `w_ReserveID` gave the reloaded script its old id again (#1);
    vh-runner never reuses an id (#2), a listed departure
    (docs/compatibility.md, "ids after an unload under A")."""
    a = [m for m in inproc if b"is now loaded" in m]
    b = [m for m in runner if b"is now loaded" in m]
    assert len(a) == 1 and b"Script #1 is now loaded" in a[0], a
    assert len(b) == 1 and b"Script #2 is now loaded" in b[0], b
    return [a[0] if m == b[0] else m for m in runner]


def test_the_script_sees_the_same_kick_reload_timer_and_stop(admin_pair):
    gen, inproc, runner = admin_pair
    a = lines(inproc.files["admin.txt"])
    b = lines(runner.files["admin.txt"])
    assert a.count("'import'") == 2, a
    assert "'OnOperatorKicks'\t'op'\t'plain'\t'testing kicks'" in a
    if gen == "A":
        assert "'StopHub'\tTrue" in a and "'UnLoad'\t6L" in a, a
    else:
        assert "'StopHub'\tFalse" in a and "'StopHub'\tTrue" in b
    a = until_stophub(gen, a, "'StopHub'")
    b = without_unload(gen, a, until_stophub(gen, b, "'StopHub'"))
    assert_same(f"generation {gen}: admin.txt", a, b)


def test_every_hook_of_the_kick_and_reload_is_the_same(admin_pair):
    gen, inproc, runner = admin_pair
    a = until_stophub(gen, lines(inproc.files["record_hooks.txt"]), "'.stophub'")
    b = until_stophub(gen, lines(runner.files["record_hooks.txt"]), "'.stophub'")
    assert any(x.startswith("OnOperatorKicks\t") for x in a), a
    assert any(x.startswith("OnUserLogout\t('plain',)") for x in a), a
    assert_same(f"generation {gen}: hooks of the admin session", a, b)


def test_clients_receive_the_same_across_kick_reload_and_stop(admin_pair):
    gen, inproc, runner = admin_pair

    def departures(nick, a, b):
        if gen == "A" and nick == OP:
            b = reloaded_id(a, b)
        if gen == "B":
            # up to the last line before .stophub (the op's own is blocked)
            a = until_stophub(gen, a, b"<op> .sync stophub")
            b = until_stophub(gen, b, b"<op> .sync stophub")
        return a, b

    assert_clients_same(gen, inproc, runner, departures)
    # the count of the script's lines started again at !pyreload (the
    # barrier's line and this one)
    assert b"<VerliHub> lines since load: 2" in inproc.received[b"op"]
    assert [m for m in inproc.received[b"op"] if b"couldn't be parsed: " in m]


def test_stophub_ends_the_hub_the_same_way(admin_pair):
    gen, inproc, runner = admin_pair
    if gen == "A":
        assert inproc.hub_exit_code == 3, inproc.hub_err[-2000:]
        assert runner.hub_exit_code == 3, runner.hub_err[-2000:]
    else:
        # the departure: B's StopHub did nothing, vh-runner's stops the hub
        assert inproc.hub_alive_at_end and inproc.hub_exit_code is None
        assert runner.hub_exit_code == 3, runner.hub_err[-2000:]


def test_the_hubs_own_timer_lines_are_the_same_but_for_as_retry_line(admin_pair):
    """A prints a line when it finds a script's OnTimer takes no argument
    and calls it without one from then on (docs/abi.md §7.6). vh-runner's
    worker reads the signature and calls it without the argument from the
    first tick, so nothing fails and nothing is printed (docs/compatibility.md,
    "Under A"); every other OnTimer line is the same."""
    gen, inproc, runner = admin_pair

    def timer_lines(r) -> list[str]:
        return [x for x in (r.hub_log + r.hub_err).splitlines() if "OnTimer" in x]

    a, b = timer_lines(inproc), timer_lines(runner)
    if gen == "A":
        retry = (
            "PY: [1:admin_a.py] OnTimer didn't expect an argument; "
            "we'll call it without it next time"
        )
        assert retry in a, a
        assert retry not in b, b
        a = [x for x in a if x != retry]
    assert_same(f"generation {gen}: the hub's OnTimer lines", a, b)
