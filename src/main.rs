//! The `collabd` command: serve, migrate, openapi, servicekey, templates.

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
    /// Manage the service keys of the provider's own services, which call
    /// the permission checks (access/check, access/checkbatch) for any
    /// organization and nothing else.
    Servicekey {
        #[command(subcommand)]
        action: ServiceKeyAction,
    },
    /// Check the templates (the built-in ones and COLLABD_TEMPLATES_DIR's)
    /// and render every email and page in every language with sample
    /// values into DIR (`<language>/<email>.html` and `.txt`,
    /// `<language>/pages/<page>.html`), to look at before a start.
    Templates {
        /// Where the rendered emails and pages go.
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ServiceKeyAction {
    /// Make a key named NAME and print its secret, once: it is stored only
    /// as a hash and never shown again.
    Create {
        /// 1-64 of A-Z a-z 0-9 . _ -, unique.
        name: String,
    },
    /// List the keys: id, name, when made, when last used (never a secret).
    List,
    /// Revoke a key by its name or id; its next use answers 401.
    Revoke {
        /// The key's name or id.
        key: String,
    },
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
        Command::Servicekey { action } => service_key(&cli.config, action),
        Command::Templates { out } => templates(&cli.config, &out),
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

/// `collabd servicekey …`, against the configured database (migrated first,
/// as `serve` would).
fn service_key(config: &Config, action: ServiceKeyAction) -> Result<(), String> {
    use collabd::domain::service_keys;
    config.check()?;
    let store = collabd::store::Store::open(
        &config.database_url,
        1,
        std::time::Duration::from_secs(config.db_timeout_secs.max(1)),
    );
    collabd::migrate(&store)?;
    let failed = |e: collabd::domain::DomainError| match e {
        collabd::domain::DomainError::Invalid(fields) => fields
            .iter()
            .map(|(field, why)| format!("{field}: {}", why.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    match action {
        ServiceKeyAction::Create { name } => {
            let (key, secret) = service_keys::create(&store, &name).map_err(failed)?;
            eprintln!(
                "service key {} ({}) made; its secret, shown this once:",
                key.name, key.id
            );
            println!("{secret}");
        }
        ServiceKeyAction::List => {
            println!("id\tname\tcreated\tlastused");
            for key in service_keys::list(&store).map_err(failed)? {
                let last = key.last_used_at.as_deref().unwrap_or("never");
                println!("{}\t{}\t{}\t{last}", key.id, key.name, key.created_at);
            }
        }
        ServiceKeyAction::Revoke { key } => {
            let key = service_keys::revoke(&store, &key).map_err(failed)?;
            println!("revoked service key {} ({})", key.name, key.id);
        }
    }
    Ok(())
}

/// `collabd templates DIR`: the start's checks, then every email and page
/// rendered.
fn templates(config: &Config, out: &std::path::Path) -> Result<(), String> {
    config.check()?;
    let texts = collabd::texts::Texts::from_config(config)?;
    for path in texts.preview(out)? {
        println!("{}", path.display());
    }
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
