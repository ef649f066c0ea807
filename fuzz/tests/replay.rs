//! Replays every committed fuzz input (`seeds/<target>/*`, the starting
//! corpus, and `regressions/<target>/*`, each a crash the fuzzer once found)
//! through its harness, on stable Rust, as a normal test:
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("read input");
            eprintln!("{target}: {}", file.display());
            run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

#[test]
fn targs() {
    replay("targs", vh_fuzz::targs);
}

#[test]
fn hub_call() {
    replay("hub_call", vh_fuzz::hub_call);
}

#[test]
fn frame() {
    replay("frame", vh_fuzz::frame);
}

#[test]
fn compact() {
    replay("compact", vh_fuzz::compact);
}

#[test]
fn proto_decode() {
    replay("proto_decode", vh_fuzz::proto_decode);
}

#[test]
fn config() {
    replay("config", vh_fuzz::config);
}
