//! `backtide`: run backtests from the command line.
//!
//! A thin clap front end: it turns raw arguments into validated configuration, calls the
//! engine, and prints. Errors print as one line on stderr with a non-zero exit code.

mod features;
mod messages;
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
    /// Join the shards of a sweep (`sweep --shard I/N`) into the unsharded result.
    SweepMerge(Box<sweep::MergeArgs>),
    /// Serve the REST API: datasets, background backtest and sweep jobs, OpenAPI docs.
    Serve(Box<serve::ServeArgs>),
    /// Run jobs from a store shared with API nodes (--store postgres://…), without HTTP;
    /// start any number, on any hosts that mount the same --data-dir.
    Worker(Box<serve::WorkerArgs>),
    /// Compute a feature matrix (and optionally a training label) for model strategies.
    Features(Box<features::FeaturesArgs>),
    /// List the built-in strategies with their parameters, defaults and bounds.
    Strategies,
    /// Print the CPU and memory limits found (cgroup v1 or v2) and what they size: worker
    /// threads and the service's default memory budget.
    Limits,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Sweep(args) => sweep::sweep(*args),
        Command::SweepMerge(args) => sweep::merge(*args),
        Command::Serve(args) => serve::serve(*args),
        Command::Worker(args) => serve::worker(*args),
        Command::Features(args) => features::features(*args),
        Command::Strategies => {
            print!("{}", table::strategies());
            Ok(())
        }
        Command::Limits => {
            let l = backtide_server::container::ContainerLimits::detect();
            println!("{}", l.summary());
            match l.memory_budget() {
                Some(b) => println!("serve's default memory budget: {} MiB", b >> 20),
                None => println!("serve's default memory budget: none (no memory limit)"),
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if closed_pipe(&e) => ExitCode::from(CLOSED_PIPE),
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The exit status of a process whose reader went away: 128 + SIGPIPE, what a shell reports
/// for a tool the signal ended.
const CLOSED_PIPE: u8 = 141;

/// Output piped into a reader that stops early (`backtide run … | head`) ends the process
/// quietly, as it does for other command-line tools: Rust ignores SIGPIPE so that writes
/// fail instead, and `print!` panics on that failure. (Restoring the signal would need
/// `unsafe`; the server keeps the default either way, a client that goes away must not stop
/// it.)
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(i32::from(CLOSED_PIPE));
        }
        default(info)
    }));
}

/// True when an error is a write into a pipe whose reader went away.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The chain of causes joined on one line, so scripts can grep it: a cause whose text its
/// parent already shows (`{path}: {source}`) is not repeated, and an OS error reads as its
/// kind (`no such file or directory`, without `(os error 2)`). A rule expression's error
/// keeps its second line, the expression with a caret under the column.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.ends_with(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    for io in e.chain().filter_map(|c| c.downcast_ref::<std::io::Error>()) {
        msg = msg.replace(&io.to_string(), &io_text(io));
    }
    msg
}

/// An OS error as words, without its number.
fn io_text(io: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match io.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "is a directory, not a file".into(),
        _ => {
            let text = io.to_string();
            match text.rfind(" (os error ") {
                Some(k) if text.ends_with(')') => text[..k].to_string(),
                _ => text,
            }
        }
    }
}

/// Standard output for a large document written in big blocks. Rust's stdout is line
/// buffered: it scans every block for a newline (a JSON document has none until its end)
/// and copies it. A duplicate of the descriptor takes the writes as they are.
pub(crate) fn bulk_stdout() -> std::io::Result<Box<dyn std::io::Write>> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::fd::AsFd;
        // Nothing may be left in Rust's own buffer ahead of the document.
        std::io::stdout().flush()?;
        let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
        Ok(Box::new(std::fs::File::from(fd)))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::new(std::io::stdout().lock()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the data crate's `Io` error is: `{path}: {source}`, with the source.
    #[derive(Debug)]
    struct Wrapped {
        path: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_missing_file_is_one_clean_line() {
        let io = std::fs::File::open("/no/such/file.csv").unwrap_err();
        let e = anyhow::Error::new(Wrapped {
            path: "/no/such/file.csv".into(),
            source: io,
        });
        assert_eq!(one_line(&e), "/no/such/file.csv: no such file or directory");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(one_line(&e), "outer: inner");
    }
}
