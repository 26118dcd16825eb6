//! The `marginalia` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use marginalia::auth::Scope;
use marginalia::commands::{self, KeysCommand};
use marginalia::config::Settings;
use marginalia::telemetry;

#[derive(Parser)]
#[command(
    name = "marginalia",
    version,
    about = "Reader reviews for news articles"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(Keys),
    /// Print a statement the service prepares, as JSON (for the benchmark).
    #[command(hide = true)]
    Sql {
        #[arg(value_enum)]
        statement: Statement,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Statement {
    /// The statement that stores a review with its article and stats.
    SubmitReview,
}

#[derive(Subcommand)]
enum Keys {
    /// Create a key and print it once.
    Create {
        /// Who or what uses the key, e.g. "cms-production".
        #[arg(long)]
        name: String,
        /// What the key may do; repeat for several.
        #[arg(long = "scope", value_enum, required = true)]
        scopes: Vec<Scope>,
        /// The site the key serves; repeat for several. None: every site (the installation's
        /// key, the only kind that manages sites).
        #[arg(long = "site")]
        sites: Vec<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: uuid::Uuid },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = cli.settings;
    if let Err(error) = settings.validate() {
        eprintln!("marginalia: {error}");
        return ExitCode::from(2);
    }
    telemetry::init(settings.server.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => commands::serve(settings).await,
        Command::Migrate => commands::migrate(settings).await,
        Command::Openapi => commands::openapi(),
        Command::Sql {
            statement: Statement::SubmitReview,
        } => commands::submission_sql(),
        Command::Keys(Keys::Create {
            name,
            scopes,
            sites,
        }) => {
            commands::keys(
                settings,
                KeysCommand::Create {
                    name,
                    scopes,
                    sites,
                },
            )
            .await
        }
        Command::Keys(Keys::List) => commands::keys(settings, KeysCommand::List).await,
        Command::Keys(Keys::Revoke { id }) => {
            commands::keys(settings, KeysCommand::Revoke { id }).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("marginalia: {error}");
            ExitCode::FAILURE
        }
    }
}
