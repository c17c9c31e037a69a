//! `vireoctl`: Vireo's command-line interface over vireo-core.
//!
//! Exit codes: 0 ok, 1 failure, 2 bad usage, 3 refused as unsafe.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Exit code for an operation refused because it could lose data.
pub const EXIT_REFUSED: u8 = 3;

/// A command's failure: the message for the user and how the process ends.
#[derive(Debug)]
pub enum Failure {
    /// The operation failed (exit 1).
    Failed(String),
    /// The input or the combination of options makes no sense (exit 2).
    Usage(String),
    /// Refused because it could lose data (exit 3).
    Refused(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Failed(_) => ExitCode::FAILURE,
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Refused(_) => ExitCode::from(EXIT_REFUSED),
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Failed(m) | Failure::Usage(m) | Failure::Refused(m) => m,
        }
    }
}

impl From<vireo_core::libvirt::Error> for Failure {
    fn from(error: vireo_core::libvirt::Error) -> Self {
        Failure::Failed(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vireoctl: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("vireoctl: {}", failure.message());
            failure.exit_code()
        }
    }
}
