//! Long downloads (exports, the audit log as CSV) streamed in keyset batches, so memory stays flat
//! whatever their size.

use std::future::Future;

use actix_web::web::Bytes;
use futures_util::Stream;
use uuid::Uuid;

use crate::store::StoreError;

/// Streams `first` and then every batch `fetch(after)` returns, `after` being the cursor of the
/// previous batch's last row, until a batch is shorter than `batch_size`. `encode` renders a
/// batch (`true` for the first, which may carry a header). A failure mid-stream ends the response
/// early with an error, never silently.
pub fn keyset_batches<Row, Fetch, Fetched, Encode>(
    first: Vec<Row>,
    batch_size: usize,
    cursor_of: fn(&Row) -> Uuid,
    fetch: Fetch,
    encode: Encode,
) -> impl Stream<Item = Result<Bytes, std::io::Error>>
where
    Fetch: Fn(Uuid) -> Fetched,
    Fetched: Future<Output = Result<Vec<Row>, StoreError>>,
    Encode: Fn(Vec<Row>, bool) -> Result<Bytes, String>,
{
    futures_util::stream::unfold(
        (Some(first), true, fetch, encode),
        move |(batch, first_batch, fetch, encode)| async move {
            let rows = batch?;
            if rows.is_empty() && !first_batch {
                return None;
            }
            let last = rows.last().map(cursor_of);
            let full = rows.len() == batch_size;
            let chunk = encode(rows, first_batch).map_err(std::io::Error::other);
            let next = match (full, last) {
                (true, Some(last)) => match fetch(last).await {
                    Ok(rows) if !rows.is_empty() => Some(rows),
                    Ok(_) => None,
                    Err(error) => {
                        tracing::warn!(%error, "a streamed download stopped early");
                        return Some((
                            chunk.and(Err(std::io::Error::other(error.to_string()))),
                            (None, false, fetch, encode),
                        ));
                    }
                },
                _ => None,
            };
            Some((chunk, (next, false, fetch, encode)))
        },
    )
}

/// Makes a CSV cell inert for spreadsheets, which run a cell starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return as a formula (CSV injection): such a cell gets a leading `'`, as
/// OWASP recommends.
pub fn inert(text: &mut String) {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        text.insert(0, '\'');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_text_left_alone() {
        for (raw, cell) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-1", "'-1"),
            ("Дякуємо", "Дякуємо"),
            ("", ""),
        ] {
            let mut text = raw.to_owned();
            inert(&mut text);
            assert_eq!(text, cell);
        }
    }
}
