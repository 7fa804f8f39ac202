//! `switchboard-desktop`: the operator console in a window. See the library's docs.

// No console window next to the app on Windows release builds.
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use clap::Parser;
use std::process::ExitCode;
use switchboard_desktop::cli::Cli;

fn main() -> ExitCode {
    // Parsed before any GUI library starts, so `--version` and `--help` work without a display.
    let cli = Cli::parse();
    match switchboard_desktop::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard-desktop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
