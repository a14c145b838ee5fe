//! `port-for`: a drop-in for the Python port-for script; see
//! `cargo_portfor::port_for`.

fn main() {
    std::process::exit(cargo_portfor::port_for::main());
}
