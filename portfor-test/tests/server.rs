//! Servers as child processes: ready when `spawn` returns, failing fast,
//! not fooled by another process's listener, stopped with their
//! descendants, socket-activated.
//!
//! The children are Python 3 (`python3`, `python` on Windows) and, on Unix,
//! `/bin/sh`. Ports are claimed in the machine-wide claim directory, as
//! users' servers claim them, so that no other test is handed a port while
//! a server starts on it.
//!
//! Times in assertions are upper bounds far from the behaviour they tell
//! apart (a failure within 15 s, not after the 30 s timeout).

// A test skipped for want of IPv6 says so on stderr.
#![allow(clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

mod common;

use portfor_test::{Builder, ChildOutput, ServerBuilder};

/// Generous: Python starts in tens of milliseconds, but machines are shared.
const PATIENCE: Duration = Duration::from_secs(60);

fn python() -> Command {
    Command::new(if cfg!(windows) { "python" } else { "python3" })
}

/// Servers claim their ports in the machine-wide claim directory, as users'
/// servers do: a server binds its port tens of milliseconds after the claim,
/// and only a claim every test shares keeps the other tests off it meanwhile.
fn builder() -> ServerBuilder {
    let mut builder = ServerBuilder::new();
    builder.timeout(PATIENCE);
    builder
}

/// One HTTP/1.0 GET, no retry: the response's status line and body.
#[track_caller]
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or("").to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Whether a new listener can bind `addr`: no socket listens on it (std
/// sets SO_REUSEADDR, so connections in TIME_WAIT do not count).
fn can_bind(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_ok()
}

#[test]
fn a_python_http_server_answers_as_soon_as_spawn_returns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from the child\n").unwrap();
    let mut command = python();
    command
        .args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"])
        .current_dir(dir.path());
    let server = builder().spawn(command).unwrap();
    assert_eq!(
        server.addr(),
        SocketAddr::from(([127, 0, 0, 1], server.port()))
    );
    // No retry: `spawn` returned, so it listens.
    let (status, body) = http_get(server.addr(), "/hello.txt");
    assert_eq!(status, "HTTP/1.0 200 OK");
    assert_eq!(body, "hello from the child\n");
}

#[test]
fn the_port_is_in_the_environment_variable_asked_for() {
    let mut command = python();
    command.args([
        "-c",
        "import http.server, os\n\
         assert os.environ['PORT'] == os.environ['HTTP_PORT']\n\
         address = ('127.0.0.1', int(os.environ['HTTP_PORT']))\n\
         http.server.HTTPServer(address, http.server.SimpleHTTPRequestHandler).serve_forever()",
    ]);
    // Not inherited from this process either.
    command.env_remove("PORT");
    let mut builder = builder();
    builder.port_env("HTTP_PORT");
    let error = builder.spawn(command).unwrap_err();
    // PORT is not set when another name is asked for.
    assert!(error.exit_status().is_some(), "{error}");
    assert!(
        error.server_stderr().unwrap().contains("KeyError: 'PORT'"),
        "{error}"
    );

    let mut command = python();
    command.args([
        "-c",
        "import http.server, os\n\
         address = ('127.0.0.1', int(os.environ['HTTP_PORT']))\n\
         http.server.HTTPServer(address, http.server.SimpleHTTPRequestHandler).serve_forever()",
    ]);
    let server = builder.spawn(command).unwrap();
    assert_eq!(http_get(server.addr(), "/").0, "HTTP/1.0 200 OK");
}

#[test]
fn a_child_that_exits_fails_fast_with_its_status_and_stderr() {
    let mut command = python();
    command.args([
        "-c",
        "import sys\nsys.stderr.write('boom: no such config file\\n')\nsys.exit(3)",
    ]);
    let start = Instant::now();
    // The default 30 s timeout: failing well before it means the exit was
    // seen (15 s: Python may take seconds to start on a loaded machine).
    let mut builder = builder();
    builder.timeout(portfor_test::SERVER_START_TIMEOUT);
    let error = builder.spawn(command).unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(15),
        "took {elapsed:?}: {error}"
    );
    assert_eq!(error.exit_status().unwrap().code(), Some(3), "{error}");
    assert_eq!(error.server_stderr(), Some("boom: no such config file\n"));
    let message = error.to_string();
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("boom: no such config file"), "{message}");
    assert!(!error.is_server_timeout());
}

#[test]
fn an_uncaptured_stderr_is_said_to_be_so() {
    for output in [ChildOutput::Null, ChildOutput::Inherit] {
        let mut command = python();
        command.args([
            "-c",
            "import sys\nsys.stderr.write('a server error, not a test failure\\n')\nsys.exit(4)",
        ]);
        let mut builder = builder();
        builder.stderr(output);
        let error = builder.spawn(command).unwrap_err();
        assert_eq!(error.exit_status().unwrap().code(), Some(4));
        assert_eq!(error.server_stderr(), None);
        assert!(
            error.to_string().ends_with("its stderr was not captured"),
            "{error}"
        );
    }
}

#[test]
fn a_server_that_never_listens_times_out_saying_what_was_seen() {
    let mut command = python();
    command.args(["-c", "import time\ntime.sleep(600)"]);
    let mut builder = builder();
    builder.timeout(Duration::from_secs(1));
    let start = Instant::now();
    let error = builder.spawn(command).unwrap_err();
    // Well under the sleep: the timeout ended the wait and the child.
    assert!(start.elapsed() < Duration::from_secs(30), "{error}");
    assert!(error.is_server_timeout(), "{error}");
    assert!(error.exit_status().is_none());
    let message = error.to_string();
    assert!(message.contains("after 1s"), "{message}");
    let seen = if cfg!(target_os = "linux") {
        "no socket was listening on port"
    } else {
        "failed"
    };
    assert!(message.contains(seen), "{message}");
}

#[test]
fn captured_output_can_be_read_while_the_server_runs() {
    let mut command = python();
    command.args([
        "-c",
        "import http.server, os, sys\n\
         print('out: starting', flush=True)\n\
         sys.stderr.write('err: starting\\n'); sys.stderr.flush()\n\
         address = ('127.0.0.1', int(os.environ['PORT']))\n\
         http.server.HTTPServer(address, http.server.SimpleHTTPRequestHandler).serve_forever()",
    ]);
    let server = builder().spawn(command).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !server.captured_stdout().unwrap().contains("out: starting") && Instant::now() < deadline
    {
        sleep(Duration::from_millis(20));
    }
    assert_eq!(server.captured_stdout().unwrap(), "out: starting\n");
    assert!(
        server
            .captured_stderr()
            .unwrap()
            .contains("err: starting\n")
    );
    assert!(
        server.child().stdout.is_none(),
        "captured, so not handed out"
    );
}

#[test]
fn the_claim_stands_until_the_server_is_stopped() {
    let ports = Builder::new();
    let mut command = python();
    command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
    let server = builder().spawn(command).unwrap();
    let port = server.port();
    assert!(ports.is_claimed(port).unwrap());
    let status = server.stop().unwrap();
    assert!(!ports.is_claimed(port).unwrap());
    assert!(can_bind(SocketAddr::from(([127, 0, 0, 1], port))));
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(15), "stopped by SIGTERM: {status}");
    }
    #[cfg(not(unix))]
    assert!(!status.success());
}

#[test]
fn a_server_on_ipv6_loopback() {
    if !portfor_test::ipv6_available() {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    }
    let mut command = python();
    command.args(["-m", "http.server", "--bind", "::1", "{port}"]);
    let mut builder = builder();
    builder.address("::1".parse().unwrap());
    let server = builder.spawn(command).unwrap();
    assert_eq!(
        server.addr(),
        SocketAddr::new("::1".parse().unwrap(), server.port())
    );
    assert_eq!(http_get(server.addr(), "/").0, "HTTP/1.0 200 OK");
}

#[test]
fn a_udp_server_is_ready_when_its_socket_is_bound() {
    let mut command = python();
    command.args([
        "-c",
        "import os, socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('127.0.0.1', int(os.environ['PORT'])))\n\
         while True:\n    data, peer = s.recvfrom(1024)\n    s.sendto(data.upper(), peer)",
    ]);
    let mut builder = builder();
    builder.udp(true);
    let server = builder.spawn(command).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    // One datagram, no retry: a datagram sent before the bind would be lost.
    client.send_to(b"ping", server.addr()).unwrap();
    let mut reply = [0; 16];
    let (read, _) = client.recv_from(&mut reply).unwrap();
    assert_eq!(&reply[..read], b"PING");
}

/// Whether `pid` is gone, or a zombie waiting for an init that does not
/// reap (as in some containers): either way it holds nothing.
#[cfg(target_os = "linux")]
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Drops `server`, and waits up to 15 s (a loaded machine) for `addr` to be
/// free.
#[track_caller]
fn assert_drop_frees(server: portfor_test::Server, addr: SocketAddr) {
    assert!(!can_bind(addr), "the server's processes should hold {addr}");
    let start = Instant::now();
    drop(server);
    while !can_bind(addr) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{addr} still held 15 s after the drop"
        );
        sleep(Duration::from_millis(20));
    }
}

/// The pid of the process listening on `port` (Linux).
#[cfg(target_os = "linux")]
fn listener_pid(port: u16) -> u32 {
    let sockets = portfor_test::proc_sockets(portfor_test::Protocol::Tcp).unwrap();
    let socket = sockets
        .iter()
        .find(|s| s.is_listening() && s.local_addr().port() == port)
        .expect("a listener on the port");
    portfor_test::socket_owners().unwrap()[&socket.inode()].pid()
}

#[cfg(unix)]
#[test]
fn dropping_a_server_stops_the_grandchild_that_listens() {
    // sh starts Python in the background and waits: Python is the
    // grandchild of this process, and the one that listens.
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "python3 -m http.server --bind 127.0.0.1 {port} & wait",
    ]);
    let server = builder().spawn(command).unwrap();
    let addr = server.addr();
    assert_eq!(http_get(addr, "/").0, "HTTP/1.0 200 OK");
    #[cfg(target_os = "linux")]
    let grandchild = {
        let pid = listener_pid(addr.port());
        assert_ne!(pid, server.id(), "the listener should be the grandchild");
        pid
    };
    assert_drop_frees(server, addr);
    #[cfg(target_os = "linux")]
    assert!(is_gone(grandchild), "grandchild {grandchild} still running");
}

#[cfg(unix)]
#[test]
fn a_grandchild_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let mut command = Command::new("sh");
    command.args(["-c", "python3 -c \"$SERVE\" & wait"]);
    command.env(
        "SERVE",
        "import http.server, os, signal\n\
         signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
         address = ('127.0.0.1', int(os.environ['PORT']))\n\
         http.server.HTTPServer(address, http.server.SimpleHTTPRequestHandler).serve_forever()",
    );
    let mut builder = builder();
    builder.grace_period(Duration::from_millis(300));
    let server = builder.spawn(command).unwrap();
    let addr = server.addr();
    #[cfg(target_os = "linux")]
    let grandchild = listener_pid(addr.port());
    assert_drop_frees(server, addr);
    #[cfg(target_os = "linux")]
    assert!(is_gone(grandchild), "grandchild {grandchild} still running");
}

/// The same as above with no Python and no shell, so that it runs on every
/// platform (Windows included, where the job object does the stopping):
/// this test binary is the server (`ROLE=parent`), which starts itself
/// again as the grandchild that listens (`ROLE=serve`).
#[test]
fn a_rust_server_and_the_grandchild_it_started_are_stopped() {
    const TEST: &str = "a_rust_server_and_the_grandchild_it_started_are_stopped";
    if common::is_child(TEST) {
        if std::env::var("ROLE").unwrap() == "serve" {
            let port: u16 = std::env::var("PORT").unwrap().parse().unwrap();
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            for stream in listener.incoming() {
                let _ = stream.unwrap().write_all(b"hello\n");
            }
        } else {
            let mut grandchild = common::child_command(TEST, &[]);
            grandchild
                .env("ROLE", "serve")
                .spawn()
                .unwrap()
                .wait()
                .unwrap();
        }
        return;
    }
    let mut command = common::child_command(TEST, &[]);
    command.env("ROLE", "parent");
    let server = builder().spawn(command).unwrap();
    let addr = server.addr();
    let mut reply = String::new();
    TcpStream::connect(addr)
        .unwrap()
        .read_to_string(&mut reply)
        .unwrap();
    assert!(reply.ends_with("hello\n"), "{reply:?}");
    // Held by the grandchild, until the drop stops it.
    assert_drop_frees(server, addr);
}

/// While a stopping server's processes still hold the port, the claim
/// stands. The claim is checked first and the port second, so that
/// "unclaimed, then held" can only mean the claim ended too early.
///
/// It runs alone in a process of its own: under `cargo test`, a child
/// another test forks holds a copy of this test's last probe listener until
/// its `exec`, which would look like the port still held.
#[cfg(unix)]
#[test]
fn the_claim_ends_only_after_the_servers_processes_are_gone() {
    const TEST: &str = "the_claim_ends_only_after_the_servers_processes_are_gone";
    if !common::is_child(TEST) {
        common::assert_child_passed(common::child_command(TEST, &[]));
        return;
    }
    let ports = Builder::new();
    let mut command = Command::new("sh");
    command.args(["-c", "python3 -c \"$SERVE\" & wait"]).env(
        "SERVE",
        "import http.server, os, signal\n\
         signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
         address = ('127.0.0.1', int(os.environ['PORT']))\n\
         http.server.HTTPServer(address, http.server.SimpleHTTPRequestHandler).serve_forever()",
    );
    let mut builder = builder();
    // Half a second in which the port stays held while the server stops.
    builder.grace_period(Duration::from_millis(500));
    let server = builder.spawn(command).unwrap();
    let (port, addr) = (server.port(), server.addr());
    let dropping = std::thread::spawn(move || drop(server));
    let deadline = Instant::now() + PATIENCE;
    let mut held_while_stopping = 0;
    loop {
        let claimed = ports.is_claimed(port).unwrap();
        let free = can_bind(addr);
        assert!(
            claimed || free,
            "the claim ended while {addr} was still held: {}",
            common::tcp_sockets_on(port)
        );
        if !claimed {
            break;
        }
        held_while_stopping += usize::from(!free);
        assert!(Instant::now() < deadline, "the claim never ended");
    }
    dropping.join().unwrap();
    assert!(
        held_while_stopping > 0,
        "the port was never seen held while stopping"
    );
}

/// Another process listening on the port is not the server, on Linux,
/// however well it answers: here this test process takes the port the
/// server was given, and the child itself never listens.
#[cfg(target_os = "linux")]
#[test]
fn a_listener_that_is_not_the_childs_does_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    // The child publishes its port (written, then renamed: never read half
    // written) and sleeps.
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "echo \"$PORT\" > \"$0.tmp\" && mv \"$0.tmp\" \"$0\" && exec sleep 600",
        ])
        .arg(&port_file);
    let intruder = std::thread::spawn(move || {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let port: u16 = text.trim().parse().unwrap();
                return TcpListener::bind(("127.0.0.1", port)).unwrap();
            }
            assert!(Instant::now() < deadline, "the child never wrote its port");
            sleep(Duration::from_millis(5));
        }
    });
    // Long enough for the shell and the intruder on a loaded machine: the
    // test always waits it out.
    let mut builder = builder();
    builder.timeout(Duration::from_secs(8));
    let error = builder.spawn(command).unwrap_err();
    let intruder = intruder.join().unwrap();
    let port = intruder.local_addr().unwrap().port();
    // A connection succeeds: polling `connect` would have been fooled.
    TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(error.is_server_timeout(), "{error}");
    let message = error.to_string();
    let expected = format!(
        "127.0.0.1:{port} was held by a process outside the server's process tree (pid {}",
        std::process::id()
    );
    assert!(message.contains(&expected), "{message}");
}

/// On Linux the listener must also serve the address asked for: a server
/// on `::1` only is not reachable at 127.0.0.1.
#[cfg(target_os = "linux")]
#[test]
fn a_listener_on_another_address_does_not_count() {
    if !portfor_test::ipv6_available() {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    }
    let mut command = python();
    command.args(["-m", "http.server", "--bind", "::1", "{port}"]);
    // Long enough for Python to start on a loaded machine: the test always
    // waits it out.
    let mut builder = builder();
    builder.timeout(Duration::from_secs(8));
    let error = builder.spawn(command).unwrap_err();
    assert!(error.is_server_timeout(), "{error}");
    assert!(
        error
            .to_string()
            .contains("the server was listening on [::1]:"),
        "{error}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_server_binds_through_a_kernel_hold() {
    let mut command = python();
    command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
    let mut builder = builder();
    builder.hold(true);
    let server = builder.spawn(command).unwrap();
    assert_eq!(http_get(server.addr(), "/").0, "HTTP/1.0 200 OK");
}

/// A Python server on fd 3 that answers every request with what it was
/// given: its pid, `LISTEN_PID` and `LISTEN_FDS`, and fd 0.
#[cfg(unix)]
const ACTIVATED_HTTP: &str = "\
import http.server, json, os, socket
assert os.environ['LISTEN_FDS'] == '1'
listener = socket.socket(fileno=3)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            'pid': os.getpid(),
            'listen_pid': int(os.environ['LISTEN_PID']),
            'stdin': os.readlink('/proc/self/fd/0') if os.path.exists('/proc/self/fd/0') else '',
            'listening': listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
        }).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(('', 0), Handler, bind_and_activate=False)
server.socket = listener
server.serve_forever()
";

#[cfg(unix)]
#[test]
fn a_socket_activated_python_child_serves_on_fd_3() {
    let mut command = python();
    command.args(["-c", ACTIVATED_HTTP]);
    let mut builder = builder();
    builder.socket_activation(true);
    let server = builder.spawn(command).unwrap();
    let (status, body) = http_get(server.addr(), "/");
    assert_eq!(status, "HTTP/1.0 200 OK", "{body}");
    let pid = server.id();
    // LISTEN_PID is the child's own pid: the wrapper shell exec'd Python.
    assert!(body.contains(&format!("\"pid\": {pid}")), "{body}");
    assert!(body.contains(&format!("\"listen_pid\": {pid}")), "{body}");
    assert!(body.contains("\"listening\": 1"), "{body}");
    #[cfg(target_os = "linux")]
    assert!(body.contains("\"stdin\": \"/dev/null\""), "{body}");
    // This process kept no copy of the listener: once the child is gone,
    // so is the socket.
    #[cfg(target_os = "linux")]
    assert_eq!(listener_pid(server.port()), pid);
    let addr = server.addr();
    assert_drop_frees(server, addr);
}

#[cfg(unix)]
#[test]
fn a_socket_activated_udp_child_receives_on_fd_3() {
    let mut command = python();
    command.args([
        "-c",
        "import os, socket\n\
         s = socket.socket(fileno=3)\n\
         assert s.type == socket.SOCK_DGRAM\n\
         while True:\n    data, peer = s.recvfrom(1024)\n    s.sendto(data + b' from ' + os.environ['LISTEN_PID'].encode(), peer)",
    ]);
    let mut builder = builder();
    builder.socket_activation(true).udp(true);
    let server = builder.spawn(command).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    // The socket was bound before the child started: nothing is lost.
    client.send_to(b"ping", server.addr()).unwrap();
    let mut reply = [0; 64];
    let (read, _) = client.recv_from(&mut reply).unwrap();
    assert_eq!(
        std::str::from_utf8(&reply[..read]).unwrap(),
        format!("ping from {}", server.id())
    );
}

#[cfg(unix)]
#[test]
fn a_socket_activated_command_that_cannot_run_exits_127_and_refuses_clients() {
    let mut builder = builder();
    builder.socket_activation(true);
    let mut server = builder
        .spawn(Command::new("/nonexistent/portfor-test-server"))
        .unwrap();
    let status = server.child_mut().wait().unwrap();
    assert_eq!(status.code(), Some(127), "{status}");
    // The child held the only copy of the listener.
    let refused = TcpStream::connect(server.addr()).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(server.stop().unwrap().code(), Some(127));
}

#[test]
fn a_command_that_cannot_start_names_itself() {
    let error = builder()
        .spawn(Command::new("/nonexistent/portfor-test-server"))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("failed to start server `/nonexistent/portfor-test-server`"),
        "{error}"
    );
    assert_eq!(
        error.io_error().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
}

/// Servers from many threads at once: each gets its own port, and none
/// inherits another's socket (a leak would keep a port bound after drop).
/// Before probes and spawns were kept apart (`spawn_lock`), a child forked
/// here could hold another thread's probe socket, and that thread's bind of
/// the port failed with "address in use".
#[cfg(unix)]
#[test]
fn servers_started_by_parallel_threads_stay_apart() {
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let activated = i % 2 == 0;
                let mut command = python();
                if activated {
                    command.args(["-c", ACTIVATED_HTTP]);
                } else {
                    command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
                }
                let server = builder()
                    .socket_activation(activated)
                    .spawn(command)
                    .unwrap();
                assert_eq!(http_get(server.addr(), "/").0, "HTTP/1.0 200 OK");
                let addr = server.addr();
                (server, addr)
            })
        })
        .collect();
    let servers: Vec<(portfor_test::Server, SocketAddr)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut ports: Vec<u16> = servers.iter().map(|(_, a)| a.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    for (server, addr) in servers {
        assert_drop_frees(server, addr);
    }
}

#[test]
fn a_server_reads_like_its_command() {
    let mut command = python();
    command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
    let server = builder().spawn(command).unwrap();
    let shown = format!("{server:?}");
    assert!(shown.starts_with("Server { command: \""), "{shown}");
    let args = format!("http.server --bind 127.0.0.1 {}", server.port());
    assert!(shown.contains(&args), "{shown}");
}
