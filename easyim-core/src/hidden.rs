//! Delete for me: what a user removed from its own view stays out of the history and the
//! conversation preview it reads ([`MessageStore::hide_messages`]). Others see everything.

use crate::error::StorageError;
use crate::storage::MessageStore;
use crate::types::{Conversation, HistoryItem, HistoryPage, StoredMessage, UserId};

/// The most storage pages read to fill one page of history around removed messages; a page
/// past it may come back short (a client asks for the next one from its last item).
const MAX_ROUNDS: usize = 8;
/// The messages read at a time looking for the newest one a user did not remove.
const PREVIEW_PAGE: usize = 20;

/// A page of `conv` as `me` sees it: at most `limit` messages, ordered as `page` says, none
/// that `me` removed and none at or before `joined` (a member's join position; 0 for none).
pub(crate) async fn visible_page(
    messages: &dyn MessageStore,
    me: UserId,
    conv: Conversation,
    page: HistoryPage,
    limit: usize,
    joined: u64,
) -> Result<Vec<HistoryItem>, StorageError> {
    let mut page = match page {
        HistoryPage::After(n) => HistoryPage::After(n.max(joined)),
        other => other,
    };
    let mut out = Vec::with_capacity(limit);
    for _ in 0..MAX_ROUNDS {
        let items = messages.history(conv, page, limit).await?;
        let Some(last) = items.last().map(|i| i.message.conv_seq) else {
            break;
        };
        let full = items.len() == limit;
        let reached_join = items.iter().any(|i| i.message.conv_seq <= joined);
        let seqs: Vec<u64> = items.iter().map(|i| i.message.conv_seq).collect();
        let hidden = messages.hidden_seqs(me, conv, &seqs).await?;
        out.extend(items.into_iter().filter(|i| {
            i.message.conv_seq > joined && hidden.binary_search(&i.message.conv_seq).is_err()
        }));
        if out.len() >= limit || !full || reached_join {
            break;
        }
        page = match page {
            HistoryPage::After(_) => HistoryPage::After(last),
            _ => HistoryPage::Before(last),
        };
    }
    out.truncate(limit);
    Ok(out)
}

/// The previews of a page of `me`'s conversation list: each entry's newest message, or if `me`
/// removed it, the newest one before it that `me` did not remove (`None` if none). One storage
/// step for the page ([`MessageStore::hidden_among`]), and more only for the entries whose
/// newest message `me` removed.
pub(crate) async fn visible_lasts(
    messages: &dyn MessageStore,
    me: UserId,
    items: &mut [crate::summary::ConversationSummary],
) -> Result<(), StorageError> {
    let lasts: Vec<(Conversation, u64)> = items
        .iter()
        .filter_map(|i| Some((i.conversation, i.last_message.as_ref()?.conv_seq)))
        .collect();
    if lasts.is_empty() {
        return Ok(());
    }
    let hidden = messages.hidden_among(me, &lasts).await?;
    let removed = lasts
        .iter()
        .zip(hidden)
        .filter(|(_, h)| *h)
        .map(|(l, _)| *l);
    for (conv, _) in removed.collect::<Vec<_>>() {
        let Some(item) = items.iter_mut().find(|i| i.conversation == conv) else {
            continue;
        };
        if let Some(last) = item.last_message.take() {
            item.last_message = visible_last(messages, me, conv, last).await?;
        }
    }
    Ok(())
}

/// The preview of `conv` for `me` whose newest message is `last`: `last` itself, or if `me`
/// removed it, the newest message before it that `me` did not remove (`None` if none).
pub(crate) async fn visible_last(
    messages: &dyn MessageStore,
    me: UserId,
    conv: Conversation,
    last: StoredMessage,
) -> Result<Option<StoredMessage>, StorageError> {
    let seq = last.conv_seq;
    if messages.hidden_seqs(me, conv, &[seq]).await?.is_empty() {
        return Ok(Some(last));
    }
    let page = visible_page(
        messages,
        me,
        conv,
        HistoryPage::Before(seq),
        PREVIEW_PAGE,
        0,
    )
    .await?;
    Ok(page.into_iter().next().map(|i| i.message))
}
