//! The editors' console offers its moderation buttons from `src/console/transitions.js`, a file
//! generated from the domain's table (`domain::moderation::transitions`) and committed, so the
//! console is served as written, with no build step. This test renders the table again and fails
//! when the committed file differs; `UPDATE_GENERATED=1` rewrites it instead.

use marginalia::domain::moderation::{transitions, ModerationAction, Transition};
use marginalia::domain::review::ReviewStatus;

const GENERATED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/console/transitions.js");

/// `names` as a JSDoc union of string literals.
fn union(names: impl Iterator<Item = &'static str>) -> String {
    names
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The module the console imports: the actions in the order it offers them, and for each status
/// the actions allowed there with the status each leaves the review in.
fn render(table: &[Transition]) -> String {
    let statuses = union(ReviewStatus::ALL.into_iter().map(ReviewStatus::as_str));
    let actions = union(
        ModerationAction::ALL
            .into_iter()
            .map(ModerationAction::as_str),
    );
    let order = ModerationAction::ALL
        .iter()
        .map(|action| format!("'{}'", action.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows = String::new();
    for from in ReviewStatus::ALL {
        let moves = table
            .iter()
            .filter(|row| row.from == from)
            .map(|row| format!("{}: '{}'", row.action.as_str(), row.to.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push_str(&format!("  {}: {{ {moves} }},\n", from.as_str()));
    }
    format!(
        "// Generated from the domain's moderation transitions (src/domain/moderation.rs,\n\
         // `transitions`) by tests/api/console_transitions.rs: do not edit. After changing them, run\n\
         //   UPDATE_GENERATED=1 cargo test --test api console_transitions\n\
         \n\
         /** @typedef {{{statuses}}} Status */\n\
         /** @typedef {{{actions}}} Action */\n\
         \n\
         /** Every moderation action, in the order the console offers them.\n \
          * @type {{readonly Action[]}} */\n\
         export const ACTIONS = [{order}];\n\
         \n\
         /** For each status, the actions a moderator may take on a review in it (one not erased) and\n \
          * the status each leaves it in; an action missing here is refused.\n \
          * @type {{Readonly<Record<Status, Partial<Record<Action, Status>>>>}} */\n\
         export const TRANSITIONS = {{\n\
         {rows}}};\n"
    )
}

#[test]
fn the_consoles_transitions_are_the_domains() {
    let expected = render(&transitions());
    if std::env::var_os("UPDATE_GENERATED").is_some_and(|value| value == "1") {
        std::fs::write(GENERATED, &expected).expect("src/console/transitions.js is writable");
        return;
    }
    let committed = std::fs::read_to_string(GENERATED).unwrap_or_default();
    assert!(
        committed == expected,
        "src/console/transitions.js differs from domain::moderation::transitions(): rewrite it \
         with `UPDATE_GENERATED=1 cargo test --test api console_transitions` and commit it"
    );
}
