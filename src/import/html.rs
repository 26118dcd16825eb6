//! A comment's HTML, as Disqus, WordPress, Remark42 and Commento keep it, made into plain text that
//! is safe to show anywhere: no markup survives, and what a reader would not have seen (scripts,
//! styles, embedded frames) is dropped with its content.
//!
//! The text is tokenized by `html5gum`, a WHATWG-conformant tokenizer: it never fails, so the
//! broken markup found in old comment exports still yields the text a browser would show, and
//! entities are decoded by the same rules a browser uses.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// Elements dropped together with everything inside them.
const DROPPED: &[&[u8]] = &[
    b"script",
    b"style",
    b"iframe",
    b"object",
    b"template",
    b"noscript",
    b"noembed",
    b"noframes",
    b"svg",
    b"math",
    b"head",
    b"title",
    b"textarea",
    b"select",
    b"canvas",
    b"audio",
    b"video",
    b"applet",
    b"frameset",
    b"xmp",
];

/// Elements that start and end a paragraph of their own.
const BLOCKS: &[&[u8]] = &[
    b"p",
    b"div",
    b"blockquote",
    b"ul",
    b"ol",
    b"li",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"pre",
    b"table",
    b"thead",
    b"tbody",
    b"tfoot",
    b"tr",
    b"section",
    b"article",
    b"header",
    b"footer",
    b"hr",
    b"figure",
    b"figcaption",
    b"dl",
    b"dt",
    b"dd",
    b"address",
    b"aside",
    b"nav",
    b"main",
    b"details",
    b"summary",
    b"form",
    b"fieldset",
    b"center",
    b"body",
    b"html",
];

/// The text of `html`: blank-line-separated paragraphs, `<br>` as a newline, links as
/// `label (href)`.
pub fn to_text(html: &str) -> String {
    let mut text = Text::default();
    let mut emitter = DefaultEmitter::default();
    // Without a tree builder the tokenizer does not know that `<script>` or `<style>` hold raw
    // text; the naive switch gives it that, so `<script>a<b</script>` is not read as markup.
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => text.start(&tag.name, tag.self_closing, || {
                tag.attributes.get(&b"href"[..]).map(|href| lossy(href))
            }),
            Token::EndTag(tag) => text.end(&tag.name),
            Token::String(s) if text.skipping.is_none() => text.push_str(&lossy(&s)),
            Token::String(_) => {}
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => {}
        }
    }
    text.finish()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An open `<a>`: its href and where its label starts in the current paragraph.
struct Link {
    href: Option<String>,
    label_start: usize,
}

#[derive(Default)]
struct Text {
    paragraphs: Vec<String>,
    current: String,
    /// Whitespace was seen since the last character kept: one space goes in before the next.
    space: bool,
    /// The dropped element being skipped, and how deeply it nests in itself.
    skipping: Option<(Vec<u8>, usize)>,
    links: Vec<Link>,
}

impl Text {
    fn start(&mut self, name: &[u8], self_closing: bool, href: impl FnOnce() -> Option<String>) {
        if let Some((skipped, depth)) = &mut self.skipping {
            if skipped.as_slice() == name {
                *depth += 1;
            }
            return;
        }
        if DROPPED.contains(&name) {
            // A self-closing flag on these is ignored by browsers too: `<script/>` still opens.
            self.skipping = Some((name.to_vec(), 1));
        } else if name == b"br" {
            self.current.push('\n');
            self.space = false;
        } else if BLOCKS.contains(&name) {
            self.flush();
        } else if name == b"a" && !self_closing {
            self.links.push(Link {
                href: href(),
                label_start: self.current.len(),
            });
        }
    }

    fn end(&mut self, name: &[u8]) {
        if let Some((skipped, depth)) = &mut self.skipping {
            if skipped.as_slice() == name {
                *depth -= 1;
                if *depth == 0 {
                    self.skipping = None;
                }
            }
            return;
        }
        if BLOCKS.contains(&name) {
            self.flush();
        } else if name == b"a" {
            if let Some(link) = self.links.pop() {
                self.close_link(link);
            }
        }
    }

    fn close_link(&mut self, link: Link) {
        let Some(href) = link.href.map(|h| h.trim().to_owned()) else {
            return;
        };
        if !shown_scheme(&href) {
            return;
        }
        let label = self.current.get(link.label_start..).unwrap_or("").trim();
        if label == href {
            return;
        }
        if label.is_empty() {
            self.push_str(&href);
        } else {
            self.push_str(&format!(" ({href})"));
        }
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.space = true;
            } else if c.is_control() {
                // Control characters are invisible at best and terminal escapes at worst.
            } else {
                if self.space && !self.current.is_empty() && !self.current.ends_with('\n') {
                    self.current.push(' ');
                }
                self.space = false;
                self.current.push(c);
            }
        }
    }

    fn flush(&mut self) {
        let paragraph = self.current.trim();
        if !paragraph.is_empty() {
            let lines: Vec<&str> = paragraph.lines().map(str::trim).collect();
            self.paragraphs.push(lines.join("\n"));
        }
        self.current.clear();
        self.space = false;
        // A link that spans paragraphs keeps only the label of its last paragraph.
        for link in &mut self.links {
            link.label_start = 0;
        }
    }

    fn finish(mut self) -> String {
        while let Some(link) = self.links.pop() {
            self.close_link(link);
        }
        self.flush();
        self.paragraphs.join("\n\n")
    }
}

/// Whether a link's address is worth showing: web and mail addresses only, never `javascript:`,
/// `data:` or a relative path.
fn shown_scheme(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn paragraphs_breaks_and_whitespace() {
        assert_eq!(
            to_text("<p>One  \n two</p><p>Three<br>four</p>\n<div>five</div>"),
            "One two\n\nThree\nfour\n\nfive"
        );
        assert_eq!(to_text("  plain   text  "), "plain text");
        assert_eq!(to_text(""), "");
        assert_eq!(to_text("<p></p><p> </p>"), "");
    }

    #[test]
    fn links() {
        assert_eq!(
            to_text(r#"See <a href="https://voanews.com/a/1">the report</a>."#),
            "See the report (https://voanews.com/a/1)."
        );
        assert_eq!(
            to_text(r#"<a href="https://x.org">https://x.org</a>"#),
            "https://x.org"
        );
        assert_eq!(
            to_text(r#"<a href="javascript:alert(1)">click</a>"#),
            "click"
        );
        assert_eq!(to_text(r#"<a href="/relative">here</a>"#), "here");
        assert_eq!(
            to_text(r#"<a href="mailto:ed@example.org">write</a>"#),
            "write (mailto:ed@example.org)"
        );
        assert_eq!(
            to_text(r#"<a href="https://x.org/?a=1&amp;b=2"><b>bold</b> label</a>"#),
            "bold label (https://x.org/?a=1&b=2)"
        );
        assert_eq!(to_text(r#"<a href="https://x.org"></a>"#), "https://x.org");
    }

    #[test]
    fn dropped_elements_and_entities() {
        assert_eq!(
            to_text("Hi<script>alert('<b>x</b>')</script> there<style>p{}</style>"),
            "Hi there"
        );
        assert_eq!(
            to_text("a<iframe src=x>inner</iframe>b<object><param>fallback</object>c"),
            "abc"
        );
        assert_eq!(
            to_text("<template><p>t</p><template>u</template>v</template>kept"),
            "kept"
        );
        assert_eq!(
            to_text("&lt;b&gt; &amp; &quot;q&quot; &#128512; &nbsp;x"),
            "<b> & \"q\" 😀 x"
        );
        assert_eq!(to_text("<SCRIPT>x</SCRIPT>y"), "y");
    }

    #[test]
    fn malformed_markup() {
        assert_eq!(
            to_text("<p>open <b>bold <i>both</p>after"),
            "open bold both\n\nafter"
        );
        assert_eq!(to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(to_text("<p class=\"x"), "");
        assert_eq!(to_text("text<script>never closed"), "text");
        assert_eq!(to_text("</p></div>stray ends"), "stray ends");
        assert_eq!(to_text("x\u{0}y\u{1b}[31m"), "xy[31m");
    }

    #[test]
    fn unicode_and_rtl() {
        assert_eq!(
            to_text("<p>Дякую 🙏</p><p dir=\"rtl\">שלום עולם</p>"),
            "Дякую 🙏\n\nשלום עולם"
        );
    }
}
