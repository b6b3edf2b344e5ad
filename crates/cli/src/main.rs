//! `anysock`: AnyEvent::Socket's toolkit on the command line.

mod clock;
mod connect;
mod demo;
mod live;
mod opts;
mod outcome;
mod parse;
mod resolve;
mod rt_async_std;
mod rt_tokio;
mod serve;

use clap::{Parser, Subcommand};

/// anysock: parse, resolve, connect and serve the way AnyEvent::Socket does, with Happy Eyeballs.
#[derive(Debug, Parser)]
#[command(name = "anysock", version, about, after_help = opts::EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what anysock makes of each argument as an address and as host:port.
    Parse(parse::ParseArgs),
    /// Print the targets `resolve_sockaddr` gives for NODE and SERVICE, in the order to try them.
    #[command(after_help = opts::EXIT_HELP)]
    Resolve(resolve::ResolveArgs),
    /// Connect to HOST SERVICE (Happy Eyeballs by default), then relay stdin and stdout like nc.
    #[command(after_help = opts::EXIT_HELP)]
    Connect(connect::ConnectArgs),
    /// Listen on HOST SERVICE (TCP or unix/) and greet or echo each client, until Ctrl-C.
    #[command(after_help = opts::EXIT_HELP)]
    Serve(serve::ServeArgs),
    /// A self-contained tour on loopback: Happy Eyeballs against a dead IPv6 address, serial connects,
    /// unix sockets. Needs no network, no root, no configuration.
    Demo(demo::DemoArgs),
}

fn main() {
    let cli = Cli::parse();
    let status = match &cli.command {
        Command::Parse(a) => parse::run(a),
        Command::Resolve(a) => resolve::run(a),
        Command::Connect(a) => connect::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
    };
    std::process::exit(status);
}
