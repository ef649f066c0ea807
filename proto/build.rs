//! Compiles `proto/vh.proto` with protox (pure Rust: no system `protoc`).
//! With the `grpc` feature the tonic client and server are generated too.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/vh.proto");
    let fds = protox::compile(["vh.proto"], ["proto"])?;
    if std::env::var_os("CARGO_FEATURE_GRPC").is_some() {
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .build_transport(false)
            .compile_fds(fds)?;
    } else {
        prost_build::Config::new().compile_fds(fds)?;
    }
    Ok(())
}
