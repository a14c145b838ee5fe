//! The `cargo-portfor` binary: `cargo portfor ...` runs it as
//! `cargo-portfor portfor ...`.

fn main() {
    std::process::exit(cargo_portfor::main());
}
