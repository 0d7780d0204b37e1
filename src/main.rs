//! The `warpbench` binary: a CLI command, or the workbench window when none is given.

use clap::Parser;
use warpbench::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,warpbench=info"),
    )
    .init();
    let args = Cli::parse();
    let result = match args.command {
        Some(cli::Command::Open(open)) => warpbench::app::run(*open),
        Some(command) => cli::run(command),
        None => warpbench::app::run(cli::OpenArgs::default()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
