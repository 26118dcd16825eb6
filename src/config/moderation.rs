//! When reviews become public, what the automatic rules hold, and how long authors may edit.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::domain::moderation::{ModerationMode, Rules};

#[derive(Debug, Clone, Args)]
pub struct Moderation {
    /// When new reviews become public: `post` (at once, unless a rule holds them) or `pre`
    /// (after a moderator approves). An article's own `moderation` overrides it.
    #[arg(long = "moderation", value_name = "MODERATION", env = "MARGINALIA_MODERATION", value_enum, default_value_t = ModerationMode::Post)]
    pub mode: ModerationMode,

    /// Terms that hold a review for moderation (comma-separated; matched as whole words, in any
    /// case, after Unicode normalization).
    #[arg(
        long,
        env = "MARGINALIA_BANNED_TERMS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub banned_terms: Vec<String>,

    /// A file of banned terms, one per line (`#` starts a comment), added to the list above.
    #[arg(long, env = "MARGINALIA_BANNED_TERMS_FILE")]
    pub banned_terms_file: Option<PathBuf>,

    /// The site's languages: those a review without one may be detected as (ISO 639-1 codes,
    /// comma-separated, e.g. `uk,ru,en`); empty: any of the 69 the detector knows. Fewer is
    /// cheaper per submission and surer on short reviews.
    #[arg(long, env = "MARGINALIA_DETECT_LANGUAGES", value_delimiter = ',')]
    pub detect_languages: Vec<String>,

    /// More links than this in a review fires the `too_many_links` rule.
    #[arg(long, env = "MARGINALIA_MAX_LINKS", default_value_t = 2)]
    pub max_links: usize,

    /// Where each rule sends what it catches, `rule=pending|spam` comma-separated; unnamed rules
    /// keep their default (honeypot: spam; the others: pending).
    #[arg(long, env = "MARGINALIA_RULE_ACTIONS", default_value = "")]
    pub rule_actions: String,

    /// How long after submitting an author may edit a review with its edit token.
    #[arg(long, env = "MARGINALIA_EDIT_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub edit_window: Duration,

    /// Flags from distinct readers that take a published review back to the queue.
    #[arg(long, env = "MARGINALIA_FLAG_THRESHOLD", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub flag_threshold: u32,

    /// The name the newsroom's replies are shown under.
    #[arg(long, env = "MARGINALIA_NEWSROOM_NAME", default_value = "The newsroom")]
    pub newsroom_name: String,
}

impl Moderation {
    /// The automatic rules: the banned terms of the setting and of the file, the link limit and
    /// the actions.
    pub fn rules(&self) -> Result<Rules, String> {
        let mut terms = self.banned_terms.clone();
        if let Some(path) = &self.banned_terms_file {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            terms.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        let mut rules = Rules::new(&terms, self.max_links);
        rules.parse_actions(&self.rule_actions)?;
        Ok(rules)
    }
}
