//! The `collabd` command: serve, migrate, openapi.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use collabd::config::{Config, LogFormat};

/// collabd: organizations, collaborators, projects and invitations over JSON/HTTP.
#[derive(Parser)]
#[command(name = "collabd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Lines are gathered in a buffer that a thread of its own writes out in
    // batches (`collabd::logs`): a request never waits on stdout or on a
    // slow reader of the pipe, and never a line is dropped. The guard writes
    // what is left when main returns.
    let (writer, _flush_at_exit) = collabd::logs::batched(std::io::stdout());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    match cli.config.log_format {
        LogFormat::Text => subscriber
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        // One object per line, the event's fields beside timestamp, level
        // and message, for log pipelines to read as they are.
        LogFormat::Json => subscriber
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config),
        Command::Migrate => migrate(&cli.config),
        Command::Openapi => {
            println!("{}", collabd::http::openapi::document_json());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("collabd: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: &Config) -> Result<(), String> {
    let system = actix_web::rt::System::new();
    system.block_on(async {
        let (server, addr) = collabd::start(config)?;
        tracing::info!(address = %addr, database = %redact(&config.database_url), "collabd serving");
        server.await.map_err(|e| e.to_string())
    })
}

fn migrate(config: &Config) -> Result<(), String> {
    config.check()?;
    let store = collabd::store::Store::open(
        &config.database_url,
        1,
        std::time::Duration::from_secs(config.db_timeout_secs.max(1)),
    );
    let applied = collabd::migrate(&store)?;
    println!("applied {applied} migration(s)");
    Ok(())
}

/// A database URL without its password, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
