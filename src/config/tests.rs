use secrecy::ExposeSecret;

use super::*;

fn parse(args: &[&str]) -> Result<Settings, String> {
    let mut all = vec!["marginalia"];
    all.extend_from_slice(args);
    Settings::from_args(all)
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn defaults_are_usable() {
    let settings = parse(&[]).unwrap();
    assert_eq!(settings.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.server.unknown_articles, UnknownArticles::Accept);
    assert!(settings.server.cors_origins.is_empty());
    assert!(settings.database.external_url().is_none());
}

#[test]
fn cors_origins_are_checked() {
    let settings = parse(&["--cors-origins", "https://a.example, https://b.example/"]).unwrap();
    assert_eq!(
        settings.server.cors_origins,
        vec!["https://a.example", "https://b.example"]
    );
    let error = parse(&["--cors-origins", "https://a.example/path"]).unwrap_err();
    assert!(error.contains("MARGINALIA_CORS_ORIGINS"), "{error}");
    assert!(parse(&["--cors-origins", "a.example"]).is_err());
}

#[test]
fn webhook_settings_are_parsed_once_into_domain_types() {
    let settings = parse(&[]).unwrap();
    assert_eq!(settings.webhooks.retry_schedule.attempts(), 8);
    assert!(settings.webhooks.cms_secrets.as_slice().is_empty());
    assert!(!settings.webhooks.allow_private_targets);
    assert!(!settings.webhooks.loopback_only);
    let both = format!("{SECRET}, {SECRET}");
    let settings = parse(&["--cms-webhook-secrets", &both]).unwrap();
    assert_eq!(settings.webhooks.cms_secrets.as_slice().len(), 2);
    let schedule = parse(&["--webhook-retry-schedule", "5s, 1m"]).unwrap();
    assert_eq!(schedule.webhooks.retry_schedule.attempts(), 3);
}

#[test]
fn a_bad_value_names_its_flag() {
    let cases = [
        (
            &["--cms-webhook-secrets", "hunter2"][..],
            "MARGINALIA_CMS_WEBHOOK_SECRETS",
        ),
        (
            &["--webhook-retry-schedule", "5s,soon"],
            "--webhook-retry-schedule",
        ),
        (&["--webhook-poll", "0s"], "--webhook-poll"),
        (&["--webhook-retention", "0s"], "--webhook-retention"),
        (&["--db-pool-size", "0"], "--db-pool-size"),
        (&["--body-limit", "10"], "--body-limit"),
        (&["--bind", "not-an-address"], "--bind"),
        (&["--unknown-articles", "maybe"], "--unknown-articles"),
        (&["--moderation", "sometimes"], "--moderation"),
        (
            &["--shutdown-timeout-secs", "soon"],
            "--shutdown-timeout-secs",
        ),
    ];
    for (args, named) in cases {
        let error = parse(args).unwrap_err();
        assert!(error.contains(named), "{args:?}: {error}");
    }
}

#[test]
fn secrets_never_print() {
    let url = "postgres://marginalia:pa55word@db.example/marginalia";
    let settings = parse(&["--database-url", url, "--cms-webhook-secrets", SECRET]).unwrap();
    assert_eq!(settings.database.external_url(), Some(url));
    let printed = format!("{settings:?} {settings:#?}");
    assert!(!printed.contains("pa55word"), "{printed}");
    assert!(!printed.contains(&SECRET["whsec_".len()..]), "{printed}");
    let wrapped = settings.database.url.as_ref().unwrap();
    assert_eq!(wrapped.expose_secret(), url);
}

#[test]
fn a_refused_secret_is_not_echoed() {
    let leaked = "whsec_not-base64-but-secret";
    let error = parse(&["--cms-webhook-secrets", leaked]).unwrap_err();
    assert!(!error.contains("not-base64-but-secret"), "{error}");
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    use clap::CommandFactory;
    let command = SettingsOnly::command();
    for id in ["url", "cms_secrets"] {
        let argument = command
            .get_arguments()
            .find(|argument| argument.get_id() == id)
            .unwrap();
        assert!(argument.is_hide_env_values_set(), "{id}");
    }
}

#[test]
fn live_streams_must_leave_connections_for_other_requests() {
    let error = parse(&["--live-max-streams", "10000", "--max-connections", "10000"])
        .expect_err("as many streams as connections");
    assert!(error.contains("MARGINALIA_LIVE_MAX_STREAMS"), "{error}");
    assert!(parse(&["--live-max-streams", "9000", "--max-connections", "10000"]).is_ok());
}
