//! The `eddy` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    eddy::config::unset_empty_env();
    let cli = eddy::config::Cli::parse();
    eddy::cli::run(cli)
}
