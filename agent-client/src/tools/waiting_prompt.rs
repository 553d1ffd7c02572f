//! What a session waits for, as it may be shown (to the model, on
//! Discord): the supervisor reads a waiting prompt and its options' labels
//! off screen rows, so a row that holds the rest of a secret wrapped from
//! the row above comes scrubbed as its line ([`scrub_piece`]).

use heimdall_client::{Client, ScreenRequest};
use heimdall_protocol::WaitingOption;

use super::ended_session::CONTEXT_ROWS;
use crate::scrub::{scrub, scrub_piece, scrub_rows_below, Cursor};

/// `prompt` and `options` of a `waiting` event of the session `client` is
/// connected to, their text scrubbed as the screen shows it now (the keys
/// unchanged); scrubbed alone when the screen cannot be read.
pub async fn shown_prompt(
    client: &Client,
    prompt: &str,
    mut options: Vec<WaitingOption>,
) -> (String, Vec<WaitingOption>) {
    let req = ScreenRequest {
        scrollback_lines: CONTEXT_ROWS,
        ..ScreenRequest::default()
    };
    let Ok(s) = client.screen(req).await else {
        for o in &mut options {
            o.label = scrub(&o.label).into_owned();
        }
        return (scrub(prompt).into_owned(), options);
    };
    let above = s.scrollback.as_deref().unwrap_or_default();
    let rows: Vec<&String> = above.iter().chain(&s.lines).collect();
    let cursor = Cursor {
        row: above.len() + usize::from(s.cursor.row),
        col: s.cursor.col.into(),
    };
    let scrubbed = scrub_rows_below(&rows, above.len(), s.cols.into(), Some(cursor));
    for o in &mut options {
        o.label = scrub_piece(&s.lines, &scrubbed, &o.label);
    }
    (scrub_piece(&s.lines, &scrubbed, prompt), options)
}
