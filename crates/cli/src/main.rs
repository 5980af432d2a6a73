//! `backtide`: run backtests from the command line.
//!
//! A thin clap front end: it turns raw arguments into validated configuration, calls the
//! engine, and prints. Errors print as one line on stderr with a non-zero exit code.

mod features;
mod portfolio;
mod run;
mod serve;
mod sweep;
mod table;
mod timings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Fast, memory-lean backtesting with backtesting.py-compatible results.
#[derive(Debug, Parser)]
#[command(name = "backtide", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one backtest and print its statistics.
    Run(Box<run::RunArgs>),
    /// Run a strategy over a grid (or a random sample) of parameters on all cores.
    Sweep(Box<sweep::SweepArgs>),
    /// Serve the REST API: datasets, background backtest and sweep jobs, OpenAPI docs.
    Serve(Box<serve::ServeArgs>),
    /// Compute a feature matrix (and optionally a training label) for model strategies.
    Features(Box<features::FeaturesArgs>),
    /// List the built-in strategies with their parameters, defaults and bounds.
    Strategies,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Sweep(args) => sweep::sweep(*args),
        Command::Serve(args) => serve::serve(*args),
        Command::Features(args) => features::features(*args),
        Command::Strategies => {
            print!("{}", table::strategies());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes joined on the first line, so scripts can grep it; a rule
            // expression's error adds the expression with a caret under the column.
            let msg = e
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
