//! The crate's layers point one way. This test reads every `src/**/*.rs`, collects the modules
//! each file names through `crate::` paths (`use crate::a::b;`, grouped `use crate::{a, b::c};`
//! over several lines, and inline paths such as `crate::metrics::record(…)`), and fails when a
//! file names a module of a layer above its own. The layers are the table in
//! `docs/architecture.md`, read from there, so the document and the check cannot drift apart.
//!
//! Comments, strings and character literals are blanked before reading, so a doc comment that
//! mentions `crate::api` is not an import. `super::` paths are not followed: the table places
//! top-level modules, and in this crate `super::` only ever names the file's own top-level module
//! (no `super::super` climbs out of one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DOC: &str = "docs/architecture.md";
const TABLE_START: &str = "<!-- layer table: read by tests/api/layers.rs -->";
const TABLE_END: &str = "<!-- end of layer table -->";

/// A top-level module's place: its band (1 is the top) and the band's name.
#[derive(Debug, Clone)]
struct Layer {
    band: usize,
    name: String,
}

/// The layer table of `docs/architecture.md`: rows `| band | layer | modules | why |`, modules in
/// backticks, between the two markers.
fn layer_table(doc: &str) -> BTreeMap<String, Layer> {
    let start = doc
        .find(TABLE_START)
        .expect("the layer table's start marker");
    let end = doc[start..]
        .find(TABLE_END)
        .expect("the table's end marker")
        + start;
    let mut table = BTreeMap::new();
    for row in doc[start..end].lines().filter(|line| line.starts_with('|')) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let Ok(band) = cells[0].parse::<usize>() else {
            continue; // the header and its separator
        };
        let layer = Layer {
            band,
            name: cells[1].to_owned(),
        };
        for module in cells[2].split('`').skip(1).step_by(2) {
            let previous = table.insert(module.to_owned(), layer.clone());
            assert!(previous.is_none(), "`{module}` is listed twice in {DOC}");
        }
    }
    assert!(!table.is_empty(), "no rows between the markers of {DOC}");
    table
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to: `store` for `src/store/reviews.rs`, `state`
/// for `src/state.rs`.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `source` with comments, string and character literals replaced by spaces (line breaks kept,
/// so line numbers stay right).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = chars.clone();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut i = 0;
    while i < chars.len() {
        let before = if i == 0 { ' ' } else { chars[i - 1] };
        let end = match chars[i] {
            '/' if at(i + 1) == '/' => (i..chars.len()).find(|&j| chars[j] == '\n'),
            '/' if at(i + 1) == '*' => block_comment_end(&chars, i),
            '"' => string_end(&chars, i),
            'r' if !is_ident(before) || (before == 'b' && !is_ident(at(i.wrapping_sub(2)))) => {
                raw_string_end(&chars, i)
            }
            // An escape: the escaped character may itself be a quote (`'\''`).
            '\'' if at(i + 1) == '\\' => (i + 3..chars.len()).find(|&j| chars[j] == '\''),
            '\'' if at(i + 2) == '\'' => Some(i + 2),
            _ => None,
        };
        match end {
            Some(end) => {
                for c in &mut out[i..(end + 1).min(chars.len())] {
                    if *c != '\n' {
                        *c = ' ';
                    }
                }
                i = end + 1;
            }
            None => i += 1,
        }
    }
    out.into_iter().collect()
}

fn block_comment_end(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < chars.len() {
        match (chars[i], chars[i + 1]) {
            ('/', '*') => (depth, i) = (depth + 1, i + 2),
            ('*', '/') if depth == 1 => return Some(i + 1),
            ('*', '/') => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    None
}

fn string_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The end of a raw string `r"…"` or `r#"…"#` starting at the `r`; `None` when the `r` starts
/// something else.
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let hashes = chars[start + 1..].iter().take_while(|&&c| c == '#').count();
    if chars.get(start + 1 + hashes) != Some(&'"') {
        return None;
    }
    let mut i = start + 2 + hashes;
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(i + hashes);
        }
        i += 1;
    }
    None
}

/// One `crate::` path in a file: its line and the path as written from its first module on.
#[derive(Debug, PartialEq)]
struct Reference {
    line: usize,
    path: String,
}

impl Reference {
    fn module(&self) -> &str {
        self.path.split("::").next().unwrap_or("")
    }
}

/// Every `crate::` path in `code` (already `code_only`), a group `crate::{a, b::{c, d}}` giving
/// one reference per top-level item.
fn crate_references(code: &str) -> Vec<Reference> {
    let chars: Vec<char> = code.chars().collect();
    let line_of = |index: usize| chars[..index].iter().filter(|&&c| c == '\n').count() + 1;
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = find_from(&chars, from, "crate::") {
        from = start + "crate::".len();
        let before = if start == 0 { ' ' } else { chars[start - 1] };
        if is_ident(before) || before == '$' || before == ':' {
            continue;
        }
        if chars.get(from) == Some(&'{') {
            for item in group_items(&chars, from) {
                found.push(Reference {
                    line: line_of(item),
                    path: path_at(&chars, item),
                });
            }
        } else {
            found.push(Reference {
                line: line_of(start),
                path: path_at(&chars, from),
            });
        }
    }
    found
}

/// Where `pattern` next occurs in `chars` at or after `from`.
fn find_from(chars: &[char], from: usize, pattern: &str) -> Option<usize> {
    let pattern: Vec<char> = pattern.chars().collect();
    (from..chars.len().saturating_sub(pattern.len() - 1))
        .find(|&i| chars[i..i + pattern.len()] == pattern[..])
}

/// Where each top-level item of the group opening at `open` (a `{`) starts.
fn group_items(chars: &[char], open: usize) -> Vec<usize> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut expecting = false;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => {
                depth += 1;
                expecting = depth == 1;
            }
            '}' if depth == 1 => break,
            '}' => depth -= 1,
            ',' if depth == 1 => expecting = true,
            c if expecting && is_ident(c) => {
                items.push(i);
                expecting = false;
            }
            _ => {}
        }
    }
    items
}

/// The path starting at `start`: identifiers joined by `::`, e.g. `api::reviews::Review`.
fn path_at(chars: &[char], start: usize) -> String {
    let mut end = start;
    while end < chars.len() && (is_ident(chars[end]) || chars[end] == ':') {
        end += 1;
    }
    chars[start..end]
        .iter()
        .collect::<String>()
        .trim_end_matches(':')
        .to_owned()
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join(DOC)).unwrap();
    let table = layer_table(&doc);
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut seen_modules = std::collections::BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = module_of(relative);
        seen_modules.insert(module.clone());
        let Some(own) = table.get(&module) else {
            violations.push(format!(
                "src/{}: module `{module}` has no layer in {DOC}",
                relative.display()
            ));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for reference in crate_references(&code) {
            let target = reference.module();
            match table.get(target) {
                Some(other) if other.band >= own.band => {}
                Some(other) => violations.push(format!(
                    "src/{}:{}: `crate::{}`: {} (band {}) imports {} (band {}), a layer above it",
                    relative.display(),
                    reference.line,
                    reference.path,
                    own.name,
                    own.band,
                    other.name,
                    other.band
                )),
                None => violations.push(format!(
                    "src/{}:{}: `crate::{}`: module `{target}` has no layer in {DOC}",
                    relative.display(),
                    reference.line,
                    reference.path
                )),
            }
        }
    }
    for listed in table
        .keys()
        .filter(|module| !seen_modules.contains(*module))
    {
        violations.push(format!(
            "{DOC} lists `{listed}`, which is no module of src/"
        ));
    }
    assert!(
        violations.is_empty(),
        "{} import(s) against the layers of {DOC}:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn grouped_inline_and_commented_paths_are_read_as_written() {
    let code = code_only(
        "use crate::{\n    api::reviews::Review,\n    store::{self, StoreError},\n};\n\
         /// Mapped in `crate::error`.\nfn f() { crate::metrics::record(\"crate::api\", '\"'); }\n\
         let s = r#\"crate::views\"#; let c = '{'; let q = '\\''; $crate::x;\n\
         pub(crate) fn g() { crate::db::x() }\n",
    );
    let found: Vec<(usize, String)> = crate_references(&code)
        .into_iter()
        .map(|reference| (reference.line, reference.path))
        .collect();
    assert_eq!(
        found,
        [
            (2, "api::reviews::Review".to_owned()),
            (3, "store".to_owned()),
            (6, "metrics::record".to_owned()),
            (8, "db::x".to_owned()),
        ]
    );
}
