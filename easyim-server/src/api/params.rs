//! [`Params`]: a call's arguments, from the query string and the body, and its token.
//!
//! Clients of the original send arguments in the query string, as JSON or as a form, with ids as
//! numbers or strings; this reads them all the same way so handlers see one map.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use easyim_proto::ChatType;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::view::List;
use super::AppState;
use easyim_core::{Claims, Page, UserId, DEFAULT_LIST_LIMIT};

/// The arguments of one call: query string and body merged (the body wins), plus the token
/// headers and the peer address.
#[derive(Debug)]
pub(crate) struct Params {
    values: Map<String, Value>,
    header_token: Option<String>,
    /// Why the body could not be read as arguments. Reported only once the caller is
    /// authenticated, so that a 401 wins over this 400.
    body_error: Option<String>,
    /// The client's IP address, when the listener recorded it.
    pub(crate) peer: Option<IpAddr>,
}

impl FromRequest<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let mut values = Map::new();
        if let Some(q) = req.uri().query() {
            merge_form(&mut values, q);
        }
        let header_token = token_from_headers(req.headers());
        let peer = peer_ip(req.extensions());
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Status(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            } else {
                ApiError::bad("could not read the request body")
            }
        })?;
        let mut body_error = None;
        let text = std::str::from_utf8(&body).map(str::trim);
        match text {
            Err(_) => body_error = Some("the request body is not UTF-8".to_owned()),
            Ok("") => {}
            Ok(text) => {
                // A body that is a JSON object is JSON whatever its Content-Type says: curl's
                // `-d '{...}'` sends it as a form, and the original read every body as JSON.
                let json = content_type.contains("json")
                    || text.starts_with('{')
                    || (!content_type.contains("x-www-form-urlencoded") && text.starts_with('['));
                if json {
                    match serde_json::from_str::<Value>(text) {
                        Ok(Value::Object(obj)) => values.extend(obj),
                        Ok(_) => body_error = Some("the JSON body must be an object".to_owned()),
                        Err(_) => body_error = Some("malformed JSON body".to_owned()),
                    }
                } else {
                    let mut form = Map::new();
                    merge_form(&mut form, text);
                    values.extend(form);
                }
            }
        }
        Ok(Params {
            values,
            header_token,
            body_error,
            peer,
        })
    }
}

impl Params {
    /// The caller: a valid, unrevoked access token, or 401. Then, as arguments come next, a
    /// body that could not be read is a 400.
    pub(crate) async fn caller(&self, state: &AppState) -> Result<UserId, ApiError> {
        let token = self
            .token()
            .ok_or(ApiError::Unauthorized("missing access token"))?;
        let user = state.im.accounts().authenticate(&token).await?;
        self.ready()?;
        Ok(user)
    }

    /// The token named `name`, falling back to the caller's token; 401 if there is none.
    pub(crate) fn named_token(&self, name: &str) -> Result<String, ApiError> {
        match self.values.get(name) {
            Some(Value::String(t)) if !t.is_empty() => Ok(t.clone()),
            _ => self.token().ok_or(ApiError::Unauthorized("missing token")),
        }
    }

    /// The claims of the token named `name` (falling back to the caller's token), of any kind;
    /// 401 if it is missing or invalid.
    pub(crate) async fn token_claims(
        &self,
        state: &AppState,
        name: &str,
    ) -> Result<Claims, ApiError> {
        let token = self.named_token(name)?;
        Ok(state.im.accounts().check_token(&token).await?)
    }

    /// 400 if the body could not be read as arguments.
    pub(crate) fn ready(&self) -> Result<(), ApiError> {
        match &self.body_error {
            Some(e) => Err(ApiError::bad(e.clone())),
            None => Ok(()),
        }
    }

    /// The caller's token: a token header, else `access_token`.
    fn token(&self) -> Option<String> {
        self.header_token
            .clone()
            .or_else(|| match self.values.get("access_token") {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
    }

    fn get(&self, name: &str) -> Result<Option<&Value>, ApiError> {
        self.ready()?;
        Ok(self.values.get(name).filter(|v| !v.is_null()))
    }

    /// An argument as it came (JSON bodies may nest), if given.
    pub(crate) fn raw(&self, name: &str) -> Result<Option<&Value>, ApiError> {
        self.get(name)
    }

    /// A text argument, if given (numbers and bools are taken as their text).
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(ApiError::bad(format!("`{name}` must be a string"))),
        }
    }

    /// A text argument that must be given and not empty.
    pub(crate) fn str(&self, name: &str) -> Result<String, ApiError> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::bad(format!("missing `{name}`"))),
        }
    }

    /// An unsigned integer argument (an id, a seq, a limit), as a number or a decimal string.
    pub(crate) fn opt_u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => as_u64(v)
                .map(Some)
                .ok_or_else(|| ApiError::bad(format!("`{name}` must be an unsigned integer"))),
        }
    }

    /// `limit`: `default` if it is missing or empty. A value that is not a number reads as 0,
    /// so that the service's 400 (which names the range) answers it.
    pub(crate) fn limit(&self, default: usize) -> Result<usize, ApiError> {
        Ok(match self.opt_str("limit")?.as_deref().map(str::trim) {
            None | Some("") => default,
            Some(text) => text.parse().unwrap_or(0),
        })
    }

    /// The page of `list` a call asks for: `limit` (default [`DEFAULT_LIST_LIMIT`]) and
    /// `cursor` (missing or empty: the first page; not a cursor of `list`: 400).
    pub(crate) fn page(&self, list: List) -> Result<Page, ApiError> {
        let limit = self.limit(DEFAULT_LIST_LIMIT)?;
        let after = match self.opt_str("cursor")?.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(list.key(text).ok_or_else(|| {
                ApiError::bad("malformed `cursor`: pass the `cursor` of the previous page as is")
            })?),
        };
        Ok(Page::new(after, limit))
    }

    /// `chat_type`, which must be given: `0`/`SINGLE` or `1`/`GROUP`.
    pub(crate) fn chat_type(&self) -> Result<ChatType, ApiError> {
        match self.opt_str("chat_type")?.as_deref().map(str::trim) {
            None | Some("") => Err(ApiError::bad("missing `chat_type`")),
            Some("0" | "SINGLE") => Ok(ChatType::Single),
            Some("1" | "GROUP") => Ok(ChatType::Group),
            Some(_) => Err(ApiError::bad("`chat_type` must be 0 or 1")),
        }
    }

    /// An id argument that must be given.
    pub(crate) fn id(&self, name: &str) -> Result<u64, ApiError> {
        self.opt_u64(name)?
            .ok_or_else(|| ApiError::bad(format!("missing `{name}`")))
    }

    /// A list of ids: a JSON array of numbers or strings, or a comma-separated string.
    pub(crate) fn opt_ids(&self, name: &str) -> Result<Option<Vec<u64>>, ApiError> {
        let bad = || ApiError::bad(format!("`{name}` must be a list of ids"));
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| as_u64(v).ok_or_else(bad))
                .collect::<Result<_, _>>()
                .map(Some),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().map_err(|_| bad()))
                .collect::<Result<_, _>>()
                .map(Some),
            Some(v) => as_u64(v).map(|id| Some(vec![id])).ok_or_else(bad),
        }
    }

    /// A list of texts: a JSON array of strings (or numbers), or a comma-separated string.
    pub(crate) fn opt_strs(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let bad = || ApiError::bad(format!("`{name}` must be a list of ids"));
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(_) => Err(bad()),
        }
    }

    /// A bool argument: `true`/`false`, or `"true"`/`"false"`/`"1"`/`"0"`.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let bad = || ApiError::bad(format!("`{name}` must be true or false"));
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(0) => Ok(Some(false)),
                Some(1) => Ok(Some(true)),
                _ => Err(bad()),
            },
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
        }
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The peer's IP, from the `ConnectInfo` the listener inserted.
pub(crate) fn peer_ip(ext: &axum::http::Extensions) -> Option<IpAddr> {
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// `Authorization: Bearer <t>`, else `Token: <t>`, else `Auth-Token: <t>`.
fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(auth) = get("authorization") {
        let mut parts = auth.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next()) {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_owned());
            }
        }
    }
    get("token")
        .or_else(|| get("auth-token"))
        .map(str::to_owned)
}

/// Adds the pairs of an `application/x-www-form-urlencoded` text (or a query string) to `map`
/// as strings. A repeated key, or one ending in `[]`, becomes an array.
fn merge_form(map: &mut Map<String, Value>, text: &str) {
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (mut key, value) = (decode(k), Value::String(decode(v)));
        let list = key.ends_with("[]");
        if list {
            key.truncate(key.len() - 2);
        }
        match map.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(old) => *old = Value::Array(vec![old.take(), value]),
            None if list => {
                map.insert(key, Value::Array(vec![value]));
            }
            None => {
                map.insert(key, value);
            }
        }
    }
}

/// Percent-decoding with `+` as a space; a malformed escape is kept as it is.
fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let mut m = Map::new();
        merge_form(&mut m, "a=1+2%20x&b=%zz&c[]=1&d=1&d=2&e");
        assert_eq!(m["a"], "1 2 x");
        assert_eq!(m["b"], "%zz");
        assert_eq!(m["c"], serde_json::json!(["1"]));
        assert_eq!(m["d"], serde_json::json!(["1", "2"]));
        assert_eq!(m["e"], "");
    }
}
