//! `tcp-greeter`: a plain `wasi:cli` program that runs until it is killed, listening on its
//! first granted port through `wasi:sockets` (`0.0.0.0:$PORT0`) and greeting every connection
//! with `hello from a wasi:cli service on port N` before closing it. Exits with 2 when it has
//! no port, 3 when the bind is refused (the port is not the task's).

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener};

fn main() {
    let Some(port) = std::env::var("PORT0")
        .ok()
        .and_then(|port| port.parse::<u16>().ok())
    else {
        eprintln!("tcp-greeter: no PORT0 in the environment");
        guest_exit::exit(2);
    };
    // An address, not a name: the sandbox resolves no names.
    let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("tcp-greeter: cannot listen on port {port}: {err}");
            guest_exit::exit(3);
        }
    };
    println!("listening on port {port}");
    for stream in listener.incoming() {
        match stream {
            Ok(mut stream) => {
                let greeting = format!("hello from a wasi:cli service on port {port}\n");
                // Flushed and shut down before the drop: a socket dropped with bytes still
                // queued is reset rather than closed.
                let sent = stream
                    .write_all(greeting.as_bytes())
                    .and_then(|()| stream.flush())
                    .and_then(|()| stream.shutdown(Shutdown::Write));
                if let Err(err) = sent {
                    eprintln!("tcp-greeter: cannot greet: {err}");
                }
            }
            Err(err) => eprintln!("tcp-greeter: accept failed: {err}"),
        }
    }
}
