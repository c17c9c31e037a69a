//! `vireo-helper`: the only part of Vireo that runs as root, started through pkexec.
//!
//! It reads one JSON request on stdin and writes one JSON reply on stdout.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use vireo_host::HostRoot;
use vireo_host::protocol::{Intent, PROTOCOL_VERSION, Reply, Request};

/// Requests are a few hundred bytes; anything far larger is not ours.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

fn main() -> ExitCode {
    let root = match parse_args(std::env::args().skip(1)) {
        Ok(root) => root,
        Err(message) => {
            eprintln!("vireo-helper: {message}");
            return ExitCode::from(2);
        }
    };
    let reply = handle(&root, read_request());
    let ok = !matches!(reply, Reply::Failed { .. } | Reply::Refused { .. });
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &reply)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    match (written, ok) {
        (Ok(()), true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<HostRoot, String> {
    let mut root = HostRoot::system();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => {
                let dir = args.next().ok_or("--root needs a directory")?;
                // A root other than / is for tests only; through pkexec it would let a
                // user point a root process at files they control.
                if std::env::var_os("PKEXEC_UID").is_some() {
                    return Err("--root is refused when started through pkexec".into());
                }
                root = HostRoot::new(PathBuf::from(dir));
            }
            "--version" => {
                println!("vireo-helper {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(root)
}

fn read_request() -> Result<Request, String> {
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_REQUEST_BYTES)
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    serde_json::from_str(&input).map_err(|e| format!("malformed request: {e}"))
}

fn handle(_root: &HostRoot, request: Result<Request, String>) -> Reply {
    let request = match request {
        Ok(request) => request,
        Err(message) => return Reply::Failed { message },
    };
    if request.protocol != PROTOCOL_VERSION {
        return Reply::Refused {
            reason: format!(
                "protocol version {} requested, this helper speaks {PROTOCOL_VERSION}",
                request.protocol
            ),
        };
    }
    match request.intent {
        Intent::Hello => Reply::Hello {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_hello_and_refuses_other_versions() {
        let root = HostRoot::system();
        assert!(matches!(
            handle(&root, Ok(Request::new(Intent::Hello))),
            Reply::Hello {
                protocol: PROTOCOL_VERSION,
                ..
            }
        ));
        let old = Request {
            protocol: 0,
            intent: Intent::Hello,
        };
        assert!(matches!(handle(&root, Ok(old)), Reply::Refused { .. }));
        assert!(matches!(
            handle(&root, Err("x".into())),
            Reply::Failed { .. }
        ));
    }
}
