//! Every byte 0x01-0xFF in nicks and messages survives hook
//! arguments, callback arguments and hook results byte for byte, for
//! CP1251, Latin-1 and UTF-8 hubs (docs/architecture.md "Hub strings are bytes").

mod common;

use common::{Runner, actions, script, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, Hub};

#[test]
fn every_byte_round_trips_through_hook_callback_and_result() {
    let _serial = serial();
    let runner = Runner::start();
    let message: Vec<u8> = (1u8..=255).collect();
    // Nick bytes: everything but NMDC's separators (space, '$', '|') and
    // control bytes, in three nicks of at most 80 bytes.
    let nick_bytes: Vec<u8> = (0x21u8..=0xff).filter(|b| !b" $|".contains(b)).collect();
    for encoding in ["CP1251", "ISO-8859-1", "UTF-8"] {
        shim_env(&runner.socket(), 5_000);
        let mut hub = Hub::open(&shim_path(), Generation::A).expect("open");
        hub.set_config(b"config", b"hub_encoding", encoding.as_bytes());
        assert!(hub.load(&script("echo_bytes.py")) >= 0, "{}", runner.log());
        for nick in nick_bytes.chunks(80) {
            assert!(hub.login(nick, 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));
            hub.clear_records();
            assert!(hub.chat(nick, &message), "{encoding}");
            let records = actions(&hub.records());
            let mut via_callback = b"USERMC ".to_vec();
            for part in [nick, b"\t", nick, b"\t", &message] {
                via_callback.extend_from_slice(part);
            }
            let mut via_result = b"MC ".to_vec();
            for part in [nick, b"\t", &message] {
                via_result.extend_from_slice(part);
            }
            assert!(
                records.contains(&via_callback),
                "{encoding}: callback path lost bytes:\n{}",
                show(&records)
            );
            assert!(
                records.contains(&via_result),
                "{encoding}: hook result path lost bytes:\n{}",
                show(&records)
            );
        }
    }
}
