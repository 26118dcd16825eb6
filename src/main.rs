//! The `marginalia` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use marginalia::auth::Scope;
use marginalia::commands::{self, ImportCommand, KeysCommand, SitesCommand};
use marginalia::config::Settings;
use marginalia::domain::import::{Announce, ArticleMatch, ImportFormat, UnknownArticles};
use marginalia::domain::moderation::ModerationMode;
use marginalia::domain::site::SiteSettingsRequest;
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
    /// Manage the sites (publications) of the installation.
    #[command(subcommand)]
    Sites(Sites),
    /// Import another system's comments into a site (docs/import.md); safe to run again.
    Import(Box<ImportArgs>),
    /// Print a statement the service prepares, as JSON (for the benchmark).
    #[command(hide = true)]
    Sql {
        #[arg(value_enum)]
        statement: Statement,
    },
}

#[derive(Args)]
struct ImportArgs {
    /// The system the file comes from.
    #[arg(value_enum)]
    format: ImportFormat,
    /// The export file (Isso: its SQLite database; Remark42: the backup, gzipped or not).
    file: PathBuf,
    /// The site to import into.
    #[arg(long)]
    site: String,
    /// Read and check everything and report, inside a transaction that is rolled back.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// How a thread finds its article: by the source's thread identifier, or by URL.
    #[arg(long = "match", value_enum, default_value_t = ArticleMatch::Identifier)]
    matching: ArticleMatch,
    /// What happens to a thread whose article is unknown: create it from the export's title and
    /// URL, or skip its comments.
    #[arg(long, value_enum, default_value_t = UnknownArticles::Create)]
    unknown_articles: UnknownArticles,
    /// A file of rules for moved pages, one `<old URL> <new URL or article id>` per line.
    #[arg(long)]
    remap: Option<PathBuf>,
    /// What the CMS's webhooks hear: nothing, or one `article.stats_changed` per article.
    #[arg(long, value_enum, default_value_t = Announce::None)]
    announce: Announce,
    /// The site's address, making threads known by a path (Isso, Commento) into URLs, e.g.
    /// `https://news.example.org`.
    #[arg(long)]
    base_url: Option<String>,
    /// Comments written per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=5000))]
    batch_size: u16,
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

#[derive(Subcommand)]
enum Sites {
    /// List the sites.
    List,
    /// Create a site (--name required) or change the settings given; the others stay as they
    /// are. A setting never given is the installation's (its environment variable).
    Put {
        /// The site's id: lowercase letters, digits and inner hyphens, e.g. `bbc-ukrainian`.
        id: String,
        #[command(flatten)]
        flags: Box<SiteFlags>,
    },
}

/// The settings `sites put` may give, each the API's member of the same name.
#[derive(Args)]
struct SiteFlags {
    #[arg(long)]
    name: Option<String>,
    /// An origin whose pages may call the site's API (repeat for several).
    #[arg(long = "origin")]
    origins: Vec<String>,
    /// A language reviews may be detected as, ISO 639-1 (repeat for several).
    #[arg(long = "language")]
    languages: Vec<String>,
    #[arg(long, value_enum)]
    moderation: Option<ModerationMode>,
    /// A term that holds a review for moderation (repeat for several).
    #[arg(long = "banned-term")]
    banned_terms: Vec<String>,
    #[arg(long)]
    max_links: Option<u32>,
    #[arg(long)]
    flag_threshold: Option<u32>,
    #[arg(long)]
    newsroom_name: Option<String>,
    /// Reviews one client address may send the site a minute (0: no limit).
    #[arg(long)]
    rate_limit_reviews: Option<u32>,
    /// Votes and flags one client address may send the site a minute (0: no limit).
    #[arg(long)]
    rate_limit_reactions: Option<u32>,
    /// A `whsec_…` secret the site's CMS signs its events with (repeat for several).
    #[arg(long = "cms-secret")]
    cms_secrets: Vec<String>,
    /// Whether readers may send feedback without stars (`true` or `false`).
    #[arg(long)]
    unrated_reviews: Option<bool>,
}

impl Sites {
    fn command(self) -> SitesCommand {
        match self {
            Self::List => SitesCommand::List,
            Self::Put { id, flags } => {
                let flags = *flags;
                let given = |list: Vec<String>| (!list.is_empty()).then_some(Some(list));
                SitesCommand::Put {
                    id,
                    settings: Box::new(SiteSettingsRequest {
                        name: flags.name,
                        origins: given(flags.origins),
                        languages: given(flags.languages),
                        moderation: flags.moderation.map(Some),
                        banned_terms: given(flags.banned_terms),
                        max_links: flags.max_links.map(Some),
                        flag_threshold: flags.flag_threshold.map(Some),
                        newsroom_name: flags.newsroom_name.map(Some),
                        cms_secrets: given(flags.cms_secrets),
                        rate_limit_reviews: flags.rate_limit_reviews.map(Some),
                        rate_limit_reactions: flags.rate_limit_reactions.map(Some),
                        // A JSON object: set through `PUT /v1/sites/{site_id}`.
                        reader_tokens: None,
                        mail: None,
                        unrated_reviews: flags.unrated_reviews.map(Some),
                    }),
                }
            }
        }
    }
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
        Command::Sites(sites) => commands::sites(settings, sites.command()).await,
        Command::Import(args) => {
            let args = *args;
            let command = ImportCommand {
                format: args.format,
                file: args.file,
                site: args.site,
                dry_run: args.dry_run,
                json: args.json,
                matching: args.matching,
                unknown_articles: args.unknown_articles,
                remap: args.remap,
                announce: args.announce,
                base_url: args.base_url,
                batch_size: usize::from(args.batch_size),
            };
            commands::import(settings, command).await
        }
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
