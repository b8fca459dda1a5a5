//! Generates the `Msg` type from `proto/msg.proto` with protox, a protobuf compiler written in
//! Rust, so that building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/msg.proto");
    let fds = protox::compile(["msg.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
