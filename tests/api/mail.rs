//! Email that closes the loop, against a real SMTP server on loopback (aiosmtpd): a reader who
//! asked to hear back confirms their address first, then learns that their held review was
//! published or not (and why) and that the newsroom answered; every message can be left in one
//! click; nothing goes out for a review before it is public or after its erasure; an SMTP outage
//! delays mail and loses none; moderators get a digest of what waits; TLS, AUTH and DKIM work.

use std::time::Duration;

use marginalia::auth::Scope;
use marginalia::config::Settings;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::smtp::{DkimKey, Mail, SinkOptions, SmtpSink, Tls};
use crate::common::{expect_problem, problem_fields, spawn_app_with, TestApp};
use crate::readers::{hs256, now, HS_SECRET, SITE};

const PUBLIC_URL: &str = "https://reviews.example.org";
const SENDER: &str = "vidguky@news.example.org";
/// Long enough for a loaded two-core machine; the worker polls every second here.
const WITHIN: Duration = Duration::from_secs(60);

/// An app that mails through `sink`, polling every second and retrying after a second or two.
async fn mail_app(sink: &SmtpSink, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let url = sink.url();
    let ca = sink.ca_cert_path();
    spawn_app_with(move |settings| {
        settings.limits.rate_limit_reviews = 0;
        let mail = &mut settings.mail;
        mail.smtp_url = Some(url.into());
        mail.smtp_ca_file = ca;
        mail.from = Some("installation@example.org".into());
        mail.public_url = PUBLIC_URL.into();
        mail.poll = Duration::from_secs(1);
        mail.retry_schedule = "1s,1s,2s,2s".parse_schedule();
        adjust(settings);
    })
    .await
}

/// Parses a retry schedule the way the setting does.
trait ParseSchedule {
    fn parse_schedule(&self) -> marginalia::domain::webhook::RetrySchedule;
}

impl ParseSchedule for str {
    fn parse_schedule(&self) -> marginalia::domain::webhook::RetrySchedule {
        let args = ["marginalia", "--mail-retry-schedule", self];
        Settings::from_args(args)
            .expect("a schedule")
            .mail
            .retry_schedule
    }
}

/// The Ukrainian site, pre-moderated, with its own sender, reader tokens and `mail` settings.
async fn site(app: &TestApp, mail: Value) -> String {
    let admin = app.api_key(&[Scope::Admin]).await;
    let put = app
        .with_key(
            &admin,
            Method::PUT,
            &format!("/v1/sites/{SITE}"),
            Some(&json!({
                "name": "Українська служба",
                "newsroom_name": "Кореспондент",
                "moderation": "pre",
                "reader_tokens": {"secrets": [HS_SECRET]},
                "mail": mail,
            })),
        )
        .await;
    let status = put.status();
    let shown: Value = put.json().await.unwrap();
    assert!(status == 200 || status == 201, "{status}: {shown}");
    assert_eq!(shown["mail"]["from_address"], mail["from_address"]);
    admin
}

fn site_mail() -> Value {
    json!({"from_address": SENDER, "from_name": "Кореспондент: відгуки", "language": "uk"})
}

fn path(rest: &str) -> String {
    format!("/sites/{SITE}{rest}")
}

/// Submits a review to `article` and returns it, checking the 201.
async fn submit(app: &TestApp, article: &str, review: Value, token: Option<&str>) -> Value {
    let mut request = app
        .client
        .post(app.url(&path(&format!("/v1/articles/{article}/reviews"))))
        .json(&review);
    if let Some(token) = token {
        request = request.header("marginalia-reader", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{review}: {body}");
    body
}

async fn moderate(app: &TestApp, key: &str, action: &str, id: &str) {
    let response = app
        .with_key(
            key,
            Method::POST,
            &path("/v1/moderation/actions"),
            Some(&json!({"action": action, "review_ids": [id]})),
        )
        .await;
    let status = response.status();
    assert_eq!(
        status,
        200,
        "{action} {id}: {}",
        response.text().await.unwrap()
    );
}

async fn reply(app: &TestApp, key: &str, id: &str, body: &str) {
    let response = app
        .with_key(
            key,
            Method::PUT,
            &path(&format!("/v1/reviews/{id}/reply")),
            Some(&json!({"body": body})),
        )
        .await;
    let status = response.status();
    assert_eq!(
        status,
        200,
        "reply to {id}: {}",
        response.text().await.unwrap()
    );
}

/// The path and query of one of our links in a message, to call on the test app.
fn local(link: &str) -> String {
    let rest = link
        .strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("{link} is not under {PUBLIC_URL}"));
    rest.to_owned()
}

/// The link of `mail`'s `List-Unsubscribe` header, checked to be the one-click kind.
fn unsubscribe_link(mail: &Mail) -> String {
    let header = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let link = header
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or_else(|| panic!("{header} is one <URI>"));
    assert!(
        link.starts_with(&format!(
            "{PUBLIC_URL}/sites/{SITE}/v1/mail/unsubscribe?token="
        )),
        "{link}"
    );
    assert!(mail.text.as_deref().unwrap_or_default().contains(link));
    assert!(mail.html.as_deref().unwrap_or_default().contains(link));
    link.to_owned()
}

/// The first link in the text part that starts with `prefix`.
fn link_in(mail: &Mail, prefix: &str) -> String {
    let text = mail.text.as_deref().expect("a text part");
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start..]
        .split_whitespace()
        .next()
        .expect("a link")
        .to_owned()
}

/// The messages queued for a review, as `kind:state`, by kind.
async fn queued(app: &TestApp, review_id: &str) -> Vec<String> {
    app.texts_where(&format!(
        "SELECT kind || ':' || state AS t FROM mail_outbox WHERE review_id = '{review_id}' \
         ORDER BY kind"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_confirms_then_hears_that_their_held_review_was_published_and_answered() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = mail_app(&sink, |_| {}).await;
    let admin = site(&app, site_mail()).await;
    let review = submit(
        &app,
        "vybory-2026",
        json!({
            "rating": 5,
            "body": "Дуже докладний розбір виборчого закону, дякую редакції.",
            "author_email": "Olena.K@Example.org",
            "language": "uk",
            "notify": true,
        }),
        None,
    )
    .await;
    let id = review["id"].as_str().unwrap();
    assert_eq!(review["status"], "pending");

    // The address is asked to confirm at once, in the review's language, from the site's sender.
    let confirm = sink.wait_for_messages(1, WITHIN).await.remove(0);
    assert_eq!(confirm.rcpt_tos, ["olena.k@example.org"]);
    assert_eq!(
        confirm.header("From"),
        Some(format!("\"Кореспондент: відгуки\" <{SENDER}>").as_str())
    );
    assert_eq!(confirm.header("To"), Some("olena.k@example.org"));
    assert_eq!(confirm.header("Content-Language"), Some("uk"));
    assert!(
        confirm
            .header("Subject")
            .unwrap()
            .starts_with("Підтвердьте адресу"),
        "{:?}",
        confirm.header("Subject")
    );
    unsubscribe_link(&confirm);
    let confirm_link = link_in(
        &confirm,
        &format!("{PUBLIC_URL}/sites/{SITE}/v1/mail/confirm?token="),
    );
    assert!(confirm.html.as_deref().unwrap().contains(&confirm_link));

    // Approved before the confirmation: the notice waits for it.
    moderate(&app, &admin, "approve", id).await;
    assert_eq!(queued(&app, id).await, ["published:waiting"]);

    // Opening the link changes nothing (mail scanners open links); the button's POST confirms.
    let page = app.get(&local(&confirm_link)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert_eq!(queued(&app, id).await, ["published:waiting"]);
    let confirmed = app
        .client
        .post(app.url(&local(&confirm_link)))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);

    let published = sink.wait_for_messages(2, WITHIN).await.remove(1);
    assert_eq!(published.rcpt_tos, ["olena.k@example.org"]);
    assert!(published
        .header("Subject")
        .unwrap()
        .starts_with("Ваш відгук опубліковано"));
    let text = published.text.as_deref().unwrap();
    assert!(
        text.contains("> Дуже докладний розбір виборчого закону"),
        "{text}"
    );

    // The newsroom answers: the author hears of it once, however often the answer is edited.
    reply(&app, &admin, id, "Дякуємо, Олено! Стежте за оновленнями.").await;
    let answered = sink.wait_for_messages(3, WITHIN).await.remove(2);
    assert!(answered
        .header("Subject")
        .unwrap()
        .starts_with("Редакція відповіла"));
    assert!(answered
        .text
        .as_deref()
        .unwrap()
        .contains("> Дякуємо, Олено! Стежте за оновленнями."));
    reply(
        &app,
        &admin,
        id,
        "Дякуємо, Олено! Стежте за оновленнями (виправлено).",
    )
    .await;
    assert_eq!(queued(&app, id).await, ["published:sent", "replied:sent"]);

    // One click, as a mail program does it (RFC 8058), without signing in: nothing more goes out.
    let link = unsubscribe_link(&answered);
    let left = app
        .client
        .post(app.url(&local(&link)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    let second = submit(
        &app,
        "vybory-2026",
        json!({"rating": 2, "body": "Ще одна думка після оновлення статті, трохи критичніша.",
               "author_email": "olena.k@example.org", "notify": true, "language": "uk"}),
        None,
    )
    .await;
    let second_id = second["id"].as_str().unwrap();
    moderate(&app, &admin, "approve", second_id).await;
    assert!(queued(&app, second_id).await.is_empty());
    assert_eq!(sink.messages().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_says_why_in_the_readers_language_and_spam_is_never_told() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = mail_app(&sink, |settings| settings.moderation.max_links = 1).await;
    let admin = site(&app, site_mail()).await;
    // A reader signed in through the newsroom's login: their address needs no confirmation.
    let token = hs256(&json!({
        "sub": "reader-7", "aud": format!("marginalia:{SITE}"), "exp": now() + 600,
        "name": "James Miller", "email": "james@example.com",
    }));
    let linked = submit(
        &app,
        "budget",
        json!({"rating": 2, "language": "en", "notify": true,
               "body": "See https://a.example.com and https://b.example.com for the real numbers."}),
        Some(&token),
    )
    .await;
    let spam = submit(
        &app,
        "budget",
        json!({"rating": 1, "language": "en", "notify": true, "author_email": "bot@example.net",
               "body": "Cheap watches for everyone reading this budget article today."}),
        None,
    )
    .await;
    // The unconfirmed address is asked to confirm; the vouched one is not.
    let asked = sink.wait_for_messages(1, WITHIN).await;
    assert_eq!(asked[0].rcpt_tos, ["bot@example.net"]);

    moderate(&app, &admin, "reject", linked["id"].as_str().unwrap()).await;
    moderate(&app, &admin, "spam", spam["id"].as_str().unwrap()).await;
    let rejected = sink.wait_for_messages(2, WITHIN).await.remove(1);
    assert_eq!(rejected.rcpt_tos, ["james@example.com"]);
    assert_eq!(rejected.header("Content-Language"), Some("en"));
    assert!(rejected
        .header("Subject")
        .unwrap()
        .starts_with("Your review was not published"));
    let text = rejected.text.as_deref().unwrap();
    assert!(text.contains("Why: too many links."), "{text}");
    assert!(queued(&app, spam["id"].as_str().unwrap()).await.is_empty());
    // An answer to a rejected review tells its author nothing more.
    let linked_id = linked["id"].as_str().unwrap();
    reply(
        &app,
        &admin,
        linked_id,
        "Please post the numbers without links.",
    )
    .await;
    assert_eq!(queued(&app, linked_id).await, ["rejected:sent"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_goes_out_for_a_review_before_it_is_public_or_after_its_erasure() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = mail_app(&sink, |_| {}).await;
    let admin = site(&app, site_mail()).await;
    let token = hs256(&json!({
        "sub": "reader-9", "aud": format!("marginalia:{SITE}"), "exp": now() + 600,
        "email": "iryna@example.org",
    }));
    let held = submit(
        &app,
        "mist",
        json!({"rating": 4, "language": "uk", "notify": true,
               "body": "Гарна стаття про новий міст, але бракує думки мешканців."}),
        Some(&token),
    )
    .await;
    let id = held["id"].as_str().unwrap();
    // An answer to a review that is not public tells its author nothing, now or later.
    reply(&app, &admin, id, "Дякуємо, додамо коментарі мешканців.").await;
    assert!(queued(&app, id).await.is_empty());

    // Erased before a moderator looked: approving it afterwards sends nothing either.
    let erased = app
        .with_key(
            &admin,
            Method::POST,
            &path("/v1/data-rights/erasures"),
            Some(&json!({"author_email": "iryna@example.org"})),
        )
        .await;
    assert_eq!(erased.status(), 200, "{}", erased.text().await.unwrap());
    let remembered = app
        .count_where(
            "SELECT count(*) AS n FROM mail_recipients WHERE address = 'iryna@example.org'",
        )
        .await;
    assert_eq!(remembered, 0);
    let restore = app
        .with_key(
            &admin,
            Method::POST,
            &path("/v1/moderation/actions"),
            Some(&json!({"action": "approve", "review_ids": [id]})),
        )
        .await;
    assert!(
        restore.status().is_client_error(),
        "an erased review stays deleted"
    );
    assert!(queued(&app, id).await.is_empty());
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_outage_delays_mail_and_loses_none() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    sink.set_outage(true);
    let app = mail_app(&sink, |_| {}).await;
    site(&app, site_mail()).await;
    let readers = ["a@example.org", "b@example.org", "c@example.org"];
    for (n, address) in readers.iter().enumerate() {
        submit(
            &app,
            "outage",
            json!({"rating": 3, "language": "en", "notify": true, "author_email": address,
                   "body": format!("Reader number {n} writes during the mail outage.")}),
            None,
        )
        .await;
    }
    // Every message is refused at least twice; each is kept for a later try.
    sink.wait_for_refusals(6, WITHIN).await;
    let retried = app
        .count_where(
            "SELECT count(*) AS n FROM mail_outbox \
             WHERE kind = 'confirm' AND state = 'due' AND attempts >= 2 AND last_error IS NOT NULL",
        )
        .await;
    assert_eq!(retried, 3);
    sink.set_outage(false);
    let delivered = sink.wait_for_messages(3, WITHIN).await;
    let mut recipients: Vec<&str> = delivered
        .iter()
        .map(|mail| mail.rcpt_tos[0].as_str())
        .collect();
    recipients.sort_unstable();
    assert_eq!(recipients, readers);
    let sent = app
        .count_where("SELECT count(*) AS n FROM mail_outbox WHERE state = 'sent'")
        .await;
    assert_eq!(sent, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn moderators_get_a_digest_of_what_waits_with_links_to_the_console() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = mail_app(&sink, |_| {}).await;
    let mut mail = site_mail();
    mail["moderators"] = json!(["desk@news.example.org", "Editor@News.example.org"]);
    mail["digest"] = json!("hourly");
    site(&app, mail).await;
    for (article, body) in [
        ("richna-data", "Чекаю продовження цієї теми, дуже цікаво."),
        ("pidsumky", "Підсумки року вийшли надто короткими."),
    ] {
        submit(
            &app,
            article,
            json!({"rating": 4, "body": body, "language": "uk"}),
            None,
        )
        .await;
    }
    let digests = sink.wait_for_messages(2, WITHIN).await;
    let mut recipients: Vec<&str> = digests.iter().map(|m| m.rcpt_tos[0].as_str()).collect();
    recipients.sort_unstable();
    assert_eq!(
        recipients,
        ["desk@news.example.org", "editor@news.example.org"]
    );
    for digest in &digests {
        let subject = digest.header("Subject").unwrap();
        assert!(subject.starts_with("Чекають на модерацію: "), "{subject}");
        let text = digest.text.as_deref().unwrap();
        let console = format!("{PUBLIC_URL}/sites/{SITE}/console/#/");
        assert!(text.contains(&format!("{console}queue/pending")), "{text}");
        assert!(
            text.contains(&format!("{console}articles/richna-data")),
            "{text}"
        );
        assert!(
            text.contains("Підсумки року вийшли надто короткими."),
            "{text}"
        );
        unsubscribe_link(digest);
    }
    // One digest an hour: the turn is taken, and nothing more is queued before it comes again.
    let last = app
        .count_where(&format!(
            "SELECT count(*) AS n FROM mail_digests WHERE site_id = '{SITE}' \
             AND last_queued_at > now() - interval '1 hour'"
        ))
        .await;
    assert_eq!(last, 1);
    let queued_digests = app
        .count_where("SELECT count(*) AS n FROM mail_outbox WHERE kind = 'digest'")
        .await;
    assert_eq!(queued_digests, 2);
}

/// Sets the site up, submits a review asking for notices from `address`, and returns the
/// confirmation request that `sink` receives.
async fn first_confirmation(app: &TestApp, sink: &SmtpSink, address: &str) -> Mail {
    site(app, site_mail()).await;
    submit(
        app,
        "transport",
        json!({"rating": 5, "language": "en", "notify": true, "author_email": address,
               "body": "A review whose confirmation travels encrypted."}),
        None,
    )
    .await;
    sink.wait_for_messages(1, WITHIN).await.remove(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_goes_over_starttls_with_a_login_signed_with_dkim() {
    let key = DkimKey::generate().await;
    let sink = SmtpSink::start(SinkOptions {
        auth: Some(("marginalia".into(), "s3cret pass/word".into())),
        tls: Tls::StartTls,
        dkim_public_txt: Some(key.public_txt.clone()),
    })
    .await;
    let key_file = sink.dir.join("dkim.pem");
    std::fs::write(&key_file, &key.private_pem).unwrap();
    let app = mail_app(&sink, |settings| {
        settings.mail.dkim_key_file = Some(key_file);
        settings.mail.dkim_selector = "mg2026".into();
    })
    .await;
    let mail = first_confirmation(&app, &sink, "tls@example.org").await;
    assert!(mail.tls, "STARTTLS was used");
    assert_eq!(mail.auth.as_deref(), Some("marginalia"));
    assert_eq!(mail.dkim, Some(true), "{}", mail.raw);
    let signature = mail.header("DKIM-Signature").expect("a DKIM signature");
    assert!(signature.contains("d=news.example.org"), "{signature}");
    assert!(signature.contains("s=mg2026"), "{signature}");
    let signed = signature.to_ascii_lowercase();
    assert!(
        signed.contains("list-unsubscribe:list-unsubscribe-post"),
        "{signature}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_goes_over_implicit_tls() {
    let sink = SmtpSink::start(SinkOptions {
        tls: Tls::Implicit,
        ..SinkOptions::default()
    })
    .await;
    let app = mail_app(&sink, |_| {}).await;
    let mail = first_confirmation(&app, &sink, "smtps@example.org").await;
    assert!(mail.tls);
    assert_eq!(mail.rcpt_tos, ["smtps@example.org"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_mail_settings_links_and_wishes_are_refused_by_name() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = mail_app(&sink, |_| {}).await;
    let admin = app.api_key(&[Scope::Admin]).await;
    let refused = app
        .with_key(
            &admin,
            Method::PUT,
            &format!("/v1/sites/{SITE}"),
            Some(&json!({
                "name": "Українська служба",
                "mail": {"from_address": "nobody", "moderators": ["desk@example.org", "x"],
                         "digest": "daily", "language": "uk"},
            })),
        )
        .await;
    let problem = expect_problem(refused, 422).await;
    assert_eq!(
        problem_fields(&problem),
        ["mail.from_address", "mail.moderators[1]"]
    );
    site(&app, site_mail()).await;

    // Notices need an address.
    let response = app
        .client
        .post(app.url(&path("/v1/articles/a/reviews")))
        .json(&json!({"rating": 4, "body": "Без адреси, але з проханням писати.", "notify": true}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 422).await;
    assert_eq!(problem_fields(&problem), ["notify"]);

    // A link's token is checked, and one of no address is a 404, on each of its operations.
    for method in [Method::GET, Method::POST] {
        for link in ["confirm", "unsubscribe"] {
            let malformed = app
                .client
                .request(
                    method.clone(),
                    app.url(&path(&format!("/v1/mail/{link}?token=short"))),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(
                problem_fields(&expect_problem(malformed, 400).await),
                ["token"]
            );
        }
    }
    let unknown = "A".repeat(43);
    for link in ["confirm", "unsubscribe"] {
        let response = app
            .client
            .post(app.url(&path(&format!("/v1/mail/{link}?token={unknown}"))))
            .send()
            .await
            .unwrap();
        expect_problem(response, 404).await;
    }
}
