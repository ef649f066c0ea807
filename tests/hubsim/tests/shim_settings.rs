//! The shim's settings from the hub's environment (docs/admin.md "The
//! shim's settings"): an unusable value is logged at `w_Begin` with what is
//! allowed and the default is taken (the hub goes on), and a deadline's log
//! line names the setting that set it.

mod common;

use common::{Runner, capture_stdout, script, serial, shim_env, shim_path};
use vh_hubsim::{Generation, Hub};

fn login(hub: &mut Hub, nick: &[u8]) -> bool {
    hub.login(nick, 0, b"10.0.0.1", b"", b"", b"", b"", b"0")
}

#[test]
fn an_unusable_setting_is_logged_at_w_begin_and_takes_its_default() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    // SAFETY: the test holds `serial()`; nothing else reads the environment.
    unsafe {
        std::env::set_var("VH_LOAD_DEADLINE_MS", "ten seconds");
        std::env::set_var("VH_DIRECT_LINKS", "yes");
    }
    let (hub, out) = capture_stdout(|| Hub::open(&shim_path(), Generation::A));
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("VH_LOAD_DEADLINE_MS");
        std::env::remove_var("VH_DIRECT_LINKS");
    }
    let mut hub = hub.expect("w_Begin succeeds despite the bad values");
    assert!(
        out.contains(
            "w_Begin: VH_LOAD_DEADLINE_MS=\"ten seconds\" is not allowed: a whole number of milliseconds from 1 to 3600000; using the default, 10000"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "VH_DIRECT_LINKS=\"yes\" is not allowed: 0 (off) or 1 (on); using the default, 1"
        ),
        "{out}"
    );
    let id = hub.load(&script("ping.py"));
    assert!(id >= 0, "the shim works on its defaults:\n{}", runner.log());
    assert!(login(&mut hub, b"alice"));
    assert!(!hub.chat(b"alice", b"!ping"), "the script answers");
}

#[test]
fn a_hook_past_its_deadline_logs_the_setting_to_raise() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 300);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    let id = hub.load(&script("hang.py"));
    assert!(id >= 0, "{}", runner.log());
    assert!(login(&mut hub, b"bob"));
    let (allowed, out) = capture_stdout(|| hub.chat(b"bob", b"!hang"));
    assert!(allowed, "a hook past its deadline allows");
    assert!(
        out.contains("took longer than 300 ms (VH_HOOK_DEADLINE_MS)"),
        "{out}"
    );
}
