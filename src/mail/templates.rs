//! The messages, in Ukrainian and English, as plain text and HTML. Everything a reader or the
//! newsroom wrote is escaped in the HTML part; the plain part carries the same words and links.

use crate::domain::mail::{MailKind, MailLanguage};
use crate::domain::moderation::ReasonCode;
use crate::domain::text::escape_html as escape;

/// How much of a review a message quotes, in characters.
const EXCERPT_CHARS: usize = 200;

/// What a message says, gathered by the worker from what is true when it is sent.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The newsroom or site the message is from, as readers know it.
    pub newsroom: String,
    pub article_title: Option<String>,
    pub article_url: Option<String>,
    pub review_title: Option<String>,
    pub review_body: Option<String>,
    pub reply: Option<String>,
    /// Why a review was not published, as the moderation rules and moderators recorded it.
    pub reasons: Vec<ReasonCode>,
    pub confirm_url: Option<String>,
    pub unsubscribe_url: String,
    pub digest: Option<Digest>,
}

/// What waits for moderators.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    pub waiting: i64,
    pub items: Vec<DigestItem>,
    /// The console's queue.
    pub console_url: String,
}

#[derive(Debug, Clone)]
pub struct DigestItem {
    pub article_id: String,
    pub excerpt: String,
    pub reasons: Vec<ReasonCode>,
    /// The review in the console.
    pub url: String,
}

/// A message ready for the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A block of the message: a paragraph, a quotation, or a link with its label.
enum Block {
    Para(String),
    Quote(String),
    Link { label: String, url: String },
}

/// The message of `kind` in `language`.
pub fn render(kind: MailKind, language: MailLanguage, facts: &Facts) -> Rendered {
    let uk = language == MailLanguage::Uk;
    let article = facts
        .article_title
        .clone()
        .unwrap_or_else(|| pick(uk, "статтю", "the article").to_owned());
    let (subject, blocks) = match kind {
        MailKind::Confirm => confirm(uk, facts),
        MailKind::Published => published(uk, facts, &article),
        MailKind::Rejected => rejected(uk, facts, &article),
        MailKind::Replied => replied(uk, facts, &article),
        MailKind::Digest => digest(uk, facts),
    };
    let footer = pick(
        uk,
        "Ви отримали цей лист, бо попросили повідомляти вас про ваш відгук. Відписатися:",
        "You get this message because you asked to hear about your review. Unsubscribe:",
    );
    let footer = if kind == MailKind::Digest {
        pick(
            uk,
            "Ви отримали цей лист як модератор сайту. Відписатися:",
            "You get this message as one of the site's moderators. Unsubscribe:",
        )
    } else {
        footer
    };
    Rendered {
        text: plain(&blocks, footer, &facts.unsubscribe_url),
        html: html(&blocks, footer, &facts.unsubscribe_url, language),
        subject: format!("{} — {}", subject, facts.newsroom),
    }
}

fn pick<'a>(uk: bool, ukrainian: &'a str, english: &'a str) -> &'a str {
    if uk {
        ukrainian
    } else {
        english
    }
}

fn confirm(uk: bool, facts: &Facts) -> (String, Vec<Block>) {
    let mut blocks = vec![Block::Para(
        pick(
            uk,
            "Хтось (сподіваємося, ви) залишив відгук і попросив надсилати на цю адресу новини про нього: чи його опубліковано та чи відповіла редакція. Підтвердьте, що це ваша адреса:",
            "Someone (we hope you) left a review and asked for news about it at this address: whether it was published and whether the newsroom answered. Confirm that this address is yours:",
        )
        .to_owned(),
    )];
    if let Some(url) = &facts.confirm_url {
        blocks.push(Block::Link {
            label: pick(uk, "Підтвердити адресу", "Confirm the address").to_owned(),
            url: url.clone(),
        });
    }
    blocks.push(Block::Para(
        pick(
            uk,
            "Якщо це були не ви, нічого не робіть: без підтвердження ми більше не писатимемо.",
            "If it was not you, do nothing: without a confirmation we will not write again.",
        )
        .to_owned(),
    ));
    (
        pick(uk, "Підтвердьте адресу", "Confirm your address").to_owned(),
        blocks,
    )
}

fn published(uk: bool, facts: &Facts, article: &str) -> (String, Vec<Block>) {
    let mut blocks = vec![Block::Para(if uk {
        format!("Ваш відгук на «{article}» перевірено й опубліковано.")
    } else {
        format!("Your review of “{article}” was checked and is now published.")
    })];
    blocks.extend(quote(facts));
    blocks.extend(article_link(uk, facts));
    (
        pick(uk, "Ваш відгук опубліковано", "Your review is published").to_owned(),
        blocks,
    )
}

fn rejected(uk: bool, facts: &Facts, article: &str) -> (String, Vec<Block>) {
    let mut blocks = vec![Block::Para(if uk {
        format!("Ваш відгук на «{article}» не опубліковано.")
    } else {
        format!("Your review of “{article}” was not published.")
    })];
    blocks.push(Block::Para(format!(
        "{} {}",
        pick(uk, "Причина:", "Why:"),
        reasons_in_words(uk, &facts.reasons)
    )));
    blocks.extend(quote(facts));
    (
        pick(
            uk,
            "Ваш відгук не опубліковано",
            "Your review was not published",
        )
        .to_owned(),
        blocks,
    )
}

fn replied(uk: bool, facts: &Facts, article: &str) -> (String, Vec<Block>) {
    let mut blocks = vec![Block::Para(if uk {
        format!("Редакція відповіла на ваш відгук на «{article}»:")
    } else {
        format!("The newsroom answered your review of “{article}”:")
    })];
    if let Some(reply) = &facts.reply {
        blocks.push(Block::Quote(reply.clone()));
    }
    blocks.push(Block::Para(
        pick(uk, "Ваш відгук:", "Your review:").to_owned(),
    ));
    blocks.extend(quote(facts));
    blocks.extend(article_link(uk, facts));
    (
        pick(
            uk,
            "Редакція відповіла на ваш відгук",
            "The newsroom answered your review",
        )
        .to_owned(),
        blocks,
    )
}

fn digest(uk: bool, facts: &Facts) -> (String, Vec<Block>) {
    let Some(digest) = &facts.digest else {
        return (String::new(), Vec::new());
    };
    let mut blocks = vec![Block::Para(if uk {
        format!("На модерацію чекають відгуків: {}.", digest.waiting)
    } else {
        format!("Reviews waiting for moderation: {}.", digest.waiting)
    })];
    for item in &digest.items {
        let why = if item.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons_in_words(uk, &item.reasons))
        };
        blocks.push(Block::Link {
            label: format!("{}: {}{}", item.article_id, item.excerpt, why),
            url: item.url.clone(),
        });
    }
    blocks.push(Block::Link {
        label: pick(
            uk,
            "Відкрити чергу в консолі",
            "Open the queue in the console",
        )
        .to_owned(),
        url: digest.console_url.clone(),
    });
    let subject = if uk {
        format!("Чекають на модерацію: {}", digest.waiting)
    } else {
        format!("Waiting for moderation: {}", digest.waiting)
    };
    (subject, blocks)
}

fn quote(facts: &Facts) -> Option<Block> {
    let body = facts.review_body.as_deref()?;
    let text = match &facts.review_title {
        Some(title) => format!("{title}\n{}", excerpt(body)),
        None => excerpt(body),
    };
    Some(Block::Quote(text))
}

fn article_link(uk: bool, facts: &Facts) -> Option<Block> {
    facts.article_url.as_ref().map(|url| Block::Link {
        label: pick(uk, "Переглянути статтю", "Read the article").to_owned(),
        url: url.clone(),
    })
}

/// The first `EXCERPT_CHARS` characters of `text`, cut at a word where one is near.
pub fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(EXCERPT_CHARS).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .filter(|&at| at > cut.len() / 2)
        .map_or(cut.as_str(), |at| &cut[..at]);
    format!("{}…", at_word.trim_end())
}

/// Why a review was held or not published, as a sentence.
pub fn reasons_in_words(uk: bool, reasons: &[ReasonCode]) -> String {
    if reasons.is_empty() {
        return pick(
            uk,
            "відгук не відповідає правилам сайту для відгуків.",
            "the review does not meet the site's rules for reviews.",
        )
        .to_owned();
    }
    let words: Vec<&str> = reasons
        .iter()
        .map(|reason| match reason {
            ReasonCode::BannedTerm => pick(
                uk,
                "у тексті є слова, яких сайт не публікує",
                "the text uses words the site does not publish",
            ),
            ReasonCode::TooManyLinks => pick(uk, "забагато посилань", "too many links"),
            ReasonCode::Duplicate => pick(
                uk,
                "такий самий текст уже надіслано",
                "the same text was sent already",
            ),
            ReasonCode::Honeypot => pick(
                uk,
                "форму заповнено автоматично",
                "the form was filled in automatically",
            ),
            ReasonCode::Shouting => pick(
                uk,
                "текст написано великими літерами або з повторами",
                "the text is in capitals or repeats characters",
            ),
            ReasonCode::Flagged => pick(
                uk,
                "читачі позначили відгук як недоречний",
                "readers flagged the review",
            ),
        })
        .collect();
    format!("{}.", words.join("; "))
}

fn plain(blocks: &[Block], footer: &str, unsubscribe_url: &str) -> String {
    let mut text = String::new();
    for block in blocks {
        match block {
            Block::Para(para) => text.push_str(para),
            Block::Quote(quote) => {
                let quoted: Vec<String> = quote.lines().map(|line| format!("> {line}")).collect();
                text.push_str(&quoted.join("\n"));
            }
            Block::Link { label, url } => text.push_str(&format!("{label}: {url}")),
        }
        text.push_str("\n\n");
    }
    text.push_str(&format!("-- \n{footer} {unsubscribe_url}\n"));
    text
}

fn html(blocks: &[Block], footer: &str, unsubscribe_url: &str, language: MailLanguage) -> String {
    let mut body = String::new();
    for block in blocks {
        match block {
            Block::Para(para) => body.push_str(&format!("<p>{}</p>\n", escape(para))),
            Block::Quote(quote) => body.push_str(&format!(
                "<blockquote style=\"margin:0 0 1em;padding-left:1em;border-left:3px solid #bbb\">{}</blockquote>\n",
                escape(quote).replace('\n', "<br>")
            )),
            Block::Link { label, url } => body.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                escape(url),
                escape(label)
            )),
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family:sans-serif;line-height:1.5;max-width:40em\">\n{body}\
         <hr><p style=\"font-size:small;color:#555\">{footer} <a href=\"{url}\">{url_text}</a></p>\n\
         </body></html>\n",
        lang = language.as_str(),
        footer = escape(footer),
        url = escape(unsubscribe_url),
        url_text = escape(unsubscribe_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            newsroom: "Кореспондент".into(),
            article_title: Some("Вибори <2026>".into()),
            article_url: Some("https://news.example.org/a?x=1&y=2".into()),
            review_title: None,
            review_body: Some("Дуже <script>alert(1)</script> докладно.".into()),
            reply: Some("Дякуємо!".into()),
            reasons: vec![ReasonCode::TooManyLinks],
            confirm_url: Some("https://m.example.org/v1/mail/confirm?token=t".into()),
            unsubscribe_url: "https://m.example.org/v1/mail/unsubscribe?token=t".into(),
            digest: None,
        }
    }

    #[test]
    fn what_readers_wrote_is_escaped_in_html_and_kept_in_text() {
        let letter = render(MailKind::Replied, MailLanguage::Uk, &facts());
        assert!(letter.html.contains("&lt;script&gt;"), "{}", letter.html);
        assert!(!letter.html.contains("<script>"));
        assert!(letter.html.contains("Вибори &lt;2026&gt;"));
        assert!(letter
            .html
            .contains("href=\"https://news.example.org/a?x=1&amp;y=2\""));
        assert!(letter
            .text
            .contains("> Дуже <script>alert(1)</script> докладно."));
        assert!(letter.text.contains("> Дякуємо!"));
        assert_eq!(
            letter.subject,
            "Редакція відповіла на ваш відгук — Кореспондент"
        );
    }

    #[test]
    fn every_kind_exists_in_both_languages_with_the_unsubscribe_link() {
        let mut facts = facts();
        facts.digest = Some(Digest {
            waiting: 3,
            items: vec![DigestItem {
                article_id: "vybory".into(),
                excerpt: "Текст".into(),
                reasons: vec![ReasonCode::Flagged],
                url: "https://m.example.org/console/#/reviews/1".into(),
            }],
            console_url: "https://m.example.org/console/".into(),
        });
        for kind in MailKind::ALL {
            let uk = render(kind, MailLanguage::Uk, &facts);
            let en = render(kind, MailLanguage::En, &facts);
            assert_ne!(uk.subject, en.subject, "{kind:?}");
            for letter in [&uk, &en] {
                assert!(letter.text.contains(&facts.unsubscribe_url), "{kind:?}");
                assert!(letter.html.contains(&facts.unsubscribe_url), "{kind:?}");
            }
        }
    }

    #[test]
    fn a_rejection_says_why_in_words() {
        let letter = render(MailKind::Rejected, MailLanguage::En, &facts());
        assert!(
            letter.text.contains("Why: too many links."),
            "{}",
            letter.text
        );
        assert_eq!(
            reasons_in_words(false, &[]),
            "the review does not meet the site's rules for reviews."
        );
    }

    #[test]
    fn long_reviews_are_quoted_to_a_word_boundary() {
        let long = "слово ".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.ends_with("слово…"), "{cut}");
        assert!(cut.chars().count() <= EXCERPT_CHARS + 1);
    }
}
