//! What every link carries, and the direct link's part that both ends
//! share (docs/protocol.md "One envelope per direction" and "Direct
//! links", docs/architecture.md "The hot path").
//!
//! The envelope, here: script traffic has one message per direction,
//! `ToWorker` towards a worker and `FromWorker` back, the same on the
//! direct link, on the runner <-> worker socketpair and inside
//! `ShimMessage.to_worker` / `RunnerMessage.from_worker` on the gRPC
//! stream. What every side needs of an envelope without looking at its
//! payload is in this file: the script it names, the script id filled in
//! by whoever knows which worker sent it, and the protocol version the
//! `Hello` / `Welcome` carry ([`PROTOCOL`]). The script id lives in the
//! payloads (each has `script_id` as field 1), not beside the envelope:
//! the worker gets the same bytes on both routes, and there is no second
//! id that could disagree with the first.
//!
//! What the shim's hub thread and the worker's main thread do alike on a
//! direct link, written once:
//! * [`frame`]: the frames (4-byte little-endian length, one prost
//!   message), the size limits and their one error text
//!   ([`frame::too_big`]), and their non-blocking write (SIGPIPE-free,
//!   bounded) and buffered read; the runner <-> worker socketpair carries
//!   the same frames and the gRPC stream the same limit;
//! * [`hook_frame`]: a hook call's frame read without `prost`, for the
//!   worker, where it is the usual frame;
//! * [`wake`]: the wait for the other end (a bounded, adaptive spin, then
//!   `poll` on the link and on an eventfd) and the eventfd.
//!
//! What each end does alone stays with it: the shim's links by script and
//! what a broken one means (`host-shim/src/direct`), the worker's held
//! pipelined calls and choice of socket (`py-sdk/src`).

pub mod compact;
pub mod frame;
pub mod hook_frame;
pub mod wake;

use crate::v1::{FromWorker, ToWorker, from_worker, to_worker};

/// Version of the shim <-> runner protocol (`Hello.protocol`,
/// `Welcome.protocol`). 1 (sent as 0, absent) put each payload in its own
/// `ShimMessage` / `RunnerMessage` field; 2 carries `ToWorker` and
/// `FromWorker` whole; 3 adds compact frames on Python 2 workers' direct
/// links ([`compact`]), which a version 2 shim would take for broken links.
/// Bumped whenever a peer of the old version would misread the stream.
pub const PROTOCOL: u32 = 3;

/// A peer's protocol version as it means it: an absent field (0) is
/// protocol 1, which had none.
pub fn protocol_of(field: u32) -> u32 {
    field.max(1)
}

/// The one error line for peers of different protocol versions, naming
/// both sides' versions (`shim`/`runner`: the package versions, `""` if
/// unknown): "vh-shim 0.1.0 speaks protocol 1, vh-runner 0.2.0 protocol
/// 2: install the shim and the runner of one release".
pub fn mismatch(shim: &str, shim_protocol: u32, runner: &str, runner_protocol: u32) -> String {
    let name = |v: &str| {
        if v.is_empty() {
            "?".to_string()
        } else {
            v.to_string()
        }
    };
    format!(
        "vh-shim {} speaks protocol {}, vh-runner {} protocol {}: install the shim (libvh_python_wrapper.so) and the runner of one release",
        name(shim),
        protocol_of(shim_protocol),
        name(runner),
        protocol_of(runner_protocol)
    )
}

impl ToWorker {
    /// The script this message is for (its payload's `script_id`); `None`
    /// for an empty envelope.
    pub fn script_id(&self) -> Option<i32> {
        use to_worker::Kind;
        Some(match self.kind.as_ref()? {
            Kind::Load(m) => m.script_id,
            Kind::Hook(m) => m.script_id,
            Kind::CallResult(m) => m.script_id,
            Kind::Unload(m) => m.script_id,
            Kind::Ping(m) => m.script_id,
            Kind::Function(m) => m.script_id,
        })
    }
}

impl FromWorker {
    /// Fills in the script id of the worker that sent this message: a
    /// worker leaves it 0, and whatever it wrote there is not trusted. The
    /// runner does it for frames it relays, the shim for frames it reads
    /// on a direct link.
    pub fn set_script_id(&mut self, id: i32) {
        if let Some(kind) = self.kind.as_mut() {
            kind.set_script_id(id);
        }
    }
}

impl from_worker::Kind {
    /// See [`FromWorker::set_script_id`].
    pub fn set_script_id(&mut self, id: i32) {
        use from_worker::Kind;
        match self {
            Kind::Loaded(m) => m.script_id = id,
            Kind::HookResult(m) => m.script_id = id,
            Kind::HubCall(m) => m.script_id = id,
            Kind::Unloaded(m) => m.script_id = id,
            Kind::Pong(m) => m.script_id = id,
            Kind::FunctionResult(m) => m.script_id = id,
            Kind::DynamicCall(m) => m.script_id = id,
        }
    }

    /// The script this message names (its payload's `script_id`).
    pub fn script_id(&self) -> i32 {
        use from_worker::Kind;
        match self {
            Kind::Loaded(m) => m.script_id,
            Kind::HookResult(m) => m.script_id,
            Kind::HubCall(m) => m.script_id,
            Kind::Unloaded(m) => m.script_id,
            Kind::Pong(m) => m.script_id,
            Kind::FunctionResult(m) => m.script_id,
            Kind::DynamicCall(m) => m.script_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{HookCall, HookResult, Ping};

    #[test]
    fn script_ids_come_from_the_payload() {
        let hook = ToWorker {
            kind: Some(to_worker::Kind::Hook(HookCall {
                script_id: 7,
                ..HookCall::default()
            })),
        };
        assert_eq!(hook.script_id(), Some(7));
        let ping = ToWorker {
            kind: Some(to_worker::Kind::Ping(Ping {
                script_id: -3,
                seq: 1,
            })),
        };
        assert_eq!(ping.script_id(), Some(-3));
        assert_eq!(ToWorker::default().script_id(), None);
        let mut result = FromWorker {
            kind: Some(from_worker::Kind::HookResult(HookResult {
                script_id: 99,
                call_id: 5,
                ..HookResult::default()
            })),
        };
        result.set_script_id(4);
        assert_eq!(
            result.kind.as_ref().map(from_worker::Kind::script_id),
            Some(4)
        );
    }

    #[test]
    fn the_mismatch_line_names_both_versions() {
        let line = mismatch("0.1.0", 0, "0.2.0", 3);
        assert!(
            line.starts_with("vh-shim 0.1.0 speaks protocol 1, vh-runner 0.2.0 protocol 3"),
            "{line}"
        );
        assert_eq!(protocol_of(0), 1);
        assert_eq!(protocol_of(PROTOCOL), PROTOCOL);
    }
}
