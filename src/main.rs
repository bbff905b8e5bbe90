use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = briefbot::config::load_dotenv() {
        eprintln!("briefbot: configuration error: {e}");
        return ExitCode::from(2);
    }
    let filter = match EnvFilter::try_from_env("RUST_LOG") {
        Ok(filter) => filter,
        Err(e) if std::env::var_os("RUST_LOG").is_some() => {
            eprintln!("briefbot: configuration error: environment: RUST_LOG: {e}");
            return ExitCode::from(2);
        }
        Err(_) => EnvFilter::new("info"),
    };
    // The token is read here too, so the log can scrub it wherever it would appear.
    let secrets = std::env::var("DISCORD_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .into_iter()
        .collect();
    // Colours only on a terminal: a log file or the journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(briefbot::logging::Redacting::new(secrets))
        .init();
    briefbot::cli::run(briefbot::cli::Cli::parse()).await
}
