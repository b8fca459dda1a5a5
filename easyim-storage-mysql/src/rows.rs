//! Row mapping (MySQL rows into the core's types), id conversions, and the chunking of
//! statements over a variable number of rows.

use easyim_core::{FriendRequest, Group, Profile, RequestStatus, StoredMessage, User};
use easyim_proto::ChatType;
use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Row, Value};

use crate::error::DbError;

/// Ids are snowflakes below 2^63, stored as `BIGINT` (as on SQLite and PostgreSQL).
pub(crate) fn id(n: u64) -> i64 {
    n as i64
}

/// Counters and limits beyond `i64::MAX` clamp to it.
pub(crate) fn to_i64<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Bound parameters: `vals![a, b]` is a `Vec<Value>`.
macro_rules! vals {
    () => { Vec::<mysql_async::Value>::new() };
    ($($v:expr),+ $(,)?) => { vec![$(mysql_async::Value::from($v)),+] };
}
pub(crate) use vals;

/// Column `i` of `r` as a `T`; an error, never a panic, if it is missing or holds another type.
pub(crate) fn get<T: FromValue>(r: &Row, i: usize) -> Result<T, DbError> {
    match r.get_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(source)) => Err(DbError::Column { index: i, source }),
        None => Err(DbError::NoColumn(i)),
    }
}

/// Column `i` as an id or a counter stored as a signed `BIGINT`.
pub(crate) fn uid(r: &Row, i: usize) -> Result<u64, DbError> {
    Ok(get::<i64>(r, i)? as u64)
}

/// Maps every row with `f`, stopping at the first error.
pub(crate) fn map_rows<T>(
    rows: Vec<Row>,
    f: impl Fn(&Row) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    rows.iter().map(f).collect()
}

/// The largest chunk a multi-row statement takes at once.
const MAX_CHUNK: usize = 256;

/// Splits `n` rows into chunks of 256, 64, 16, 4 and 1 rows (largest first): every
/// multi-row statement then has one of five shapes, so each connection prepares it once and
/// keeps it, whatever the size of the batches.
pub(crate) fn chunks(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut size = MAX_CHUNK;
    while n > 0 {
        while size > n {
            size /= 4;
        }
        out.push(size);
        n -= size;
    }
    out
}

/// `n` copies of `one` (a tuple of placeholders such as `(?, ?)`), joined by `sep`.
pub(crate) fn repeat(one: &str, sep: &str, n: usize) -> String {
    vec![one; n].join(sep)
}

/// Runs one statement on `q` and returns how many rows it changed (or, for
/// `INSERT ... ON DUPLICATE KEY UPDATE`, MySQL's count: 1 per insert, 2 per update).
pub(crate) async fn exec_count<Q: Queryable>(
    q: &mut Q,
    sql: &str,
    params: Vec<Value>,
) -> Result<u64, DbError> {
    let result = q.exec_iter(sql, params).await?;
    let n = result.affected_rows();
    result.drop_result().await?;
    Ok(n)
}

/// Runs `sql` once per chunk of `items` (in order), its `{list}` replaced by the chunk's
/// items, each written `one` (its placeholders, such as `(?, ?)`) and joined by `sep`; the
/// parameters are `before`, then the chunk's values. Returns the rows of every chunk.
pub(crate) async fn rows_for<Q: Queryable>(
    q: &mut Q,
    sql: &str,
    one: &str,
    sep: &str,
    before: &[Value],
    items: Vec<Vec<Value>>,
) -> Result<Vec<Row>, DbError> {
    let mut out = Vec::new();
    let mut items = items.into_iter();
    for n in chunks(items.len()) {
        let stmt = sql.replace("{list}", &repeat(one, sep, n));
        let mut params = before.to_vec();
        params.extend(items.by_ref().take(n).flatten());
        out.extend(q.exec::<Row, _, _>(stmt, params).await?);
    }
    Ok(out)
}

/// [`rows_for`] of an `IN ({list})` of `ids`.
pub(crate) async fn rows_in<Q: Queryable, T: Clone + Into<Value>>(
    q: &mut Q,
    sql: &str,
    before: &[Value],
    ids: &[T],
) -> Result<Vec<Row>, DbError> {
    let items = ids.iter().map(|i| vec![i.clone().into()]).collect();
    rows_for(q, sql, "?", ", ", before, items).await
}

/// [`rows_for`] of a multi-row `VALUES {list}`, each row `one` with its values.
pub(crate) async fn exec_rows<Q: Queryable>(
    q: &mut Q,
    sql: &str,
    one: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), DbError> {
    rows_for(q, sql, one, ", ", &[], rows).await?;
    Ok(())
}

pub(crate) const USER_COLUMNS: &str = "id, account, nickname, avatar, password_hash, secret";

pub(crate) fn user_row(r: &Row) -> Result<User, DbError> {
    Ok(User {
        id: uid(r, 0)?,
        account: get(r, 1)?,
        nickname: get(r, 2)?,
        avatar: get(r, 3)?,
        password_hash: get(r, 4)?,
        secret: get(r, 5)?,
    })
}

pub(crate) fn profile_row(r: &Row) -> Result<Profile, DbError> {
    Ok(Profile {
        id: uid(r, 0)?,
        account: get(r, 1)?,
        nickname: get(r, 2)?,
        avatar: get(r, 3)?,
    })
}

pub(crate) const REQUEST_COLUMNS: &str = "id, from_user, to_user, msg, status";

pub(crate) fn request_row(r: &Row) -> Result<FriendRequest, DbError> {
    Ok(FriendRequest {
        id: uid(r, 0)?,
        from: uid(r, 1)?,
        to: uid(r, 2)?,
        msg: get(r, 3)?,
        status: RequestStatus::from_i64(get(r, 4)?),
    })
}

pub(crate) fn group_row(r: &Row) -> Result<Group, DbError> {
    Ok(Group {
        id: uid(r, 0)?,
        name: get(r, 1)?,
        owner: uid(r, 2)?,
        member_count: uid(r, 3)?,
    })
}

/// The columns [`message_row`] reads, from `messages m`.
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type, m.content, m.ts,
     m.ref_id, m.recalled, m.edited_at";

/// The message whose [`MESSAGE_COLUMNS`] start at column `at`.
pub(crate) fn message_row(r: &Row, at: usize) -> Result<StoredMessage, DbError> {
    Ok(StoredMessage {
        id: get(r, at)?,
        conv_seq: uid(r, at + 1)?,
        from: uid(r, at + 2)?,
        to: uid(r, at + 3)?,
        chat_type: ChatType::try_from(get::<i32>(r, at + 4)?).unwrap_or(ChatType::Single),
        msg_type: get(r, at + 5)?,
        content: get(r, at + 6)?,
        timestamp: get(r, at + 7)?,
        ref_id: get(r, at + 8)?,
        recalled: get(r, at + 9)?,
        edited_at: get(r, at + 10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_in_five_shapes() {
        for n in 0..2000 {
            let c = chunks(n);
            assert_eq!(c.iter().sum::<usize>(), n);
            assert!(
                c.iter().all(|s| [1, 4, 16, 64, 256].contains(s)),
                "{n}: {c:?}"
            );
            assert!(c.windows(2).all(|w| w[0] >= w[1]), "{n}: {c:?}");
        }
        assert_eq!(chunks(300), vec![256, 16, 16, 4, 4, 4]);
    }
}
