//! `anysock`: AnyEvent::Socket's toolkit on the command line.

mod parse;

use clap::{Parser, Subcommand};

/// anysock: parse, resolve, connect and serve the way AnyEvent::Socket does, with Happy Eyeballs.
#[derive(Debug, Parser)]
#[command(name = "anysock", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what anysock makes of each argument as an address and as host:port.
    Parse(parse::ParseArgs),
}

fn main() {
    let cli = Cli::parse();
    let status = match &cli.command {
        Command::Parse(a) => parse::run(a),
    };
    std::process::exit(status);
}
