//! `socket-attempt`: tries to open a TCP connection from inside the sandbox.
//!
//! Args: `socket-attempt ADDR:PORT` (an IP address, no name lookup). Connects with
//! `std::net::TcpStream` (WASI sockets on `wasm32-wasip2`), with a 5 s connect timeout. Prints
//! `CONNECTED` and exits 0 when the connection opens, or `DENIED <error>` and exits 3 when it
//! does not. A missing or malformed address exits 2.

#![forbid(unsafe_code)]

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("usage: socket-attempt ADDR:PORT");
        guest_exit::exit(2);
    };
    let addr: SocketAddr = match arg.parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("socket-attempt: {arg:?} is not an IP address and port: {err}");
            guest_exit::exit(2);
        }
    };
    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(_stream) => println!("CONNECTED"),
        Err(err) => {
            println!("DENIED {err}");
            guest_exit::exit(3);
        }
    }
}
