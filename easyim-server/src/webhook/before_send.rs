//! [`HttpBeforeSend`]: the before-send hook as an HTTP call (`BEFORE_SEND_URL`).
//!
//! POSTs `{"message": {...}}` (the fields of `message.created`'s `message`, without
//! `conv_seq`, which is not known yet), signed like the webhooks when `WEBHOOK_SECRET` is set,
//! and reads `{"action": "allow"}`, `{"action": "refuse", "reason": "..."}` or
//! `{"action": "replace", "content": "..."}`. A timeout (`BEFORE_SEND_TIMEOUT_MS`), a
//! connection failure, a non-2xx status or an answer of another form is an error, which
//! `BEFORE_SEND_ON_ERROR` turns into allow or refuse.

use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use easyim_core::{now_ms, BeforeSend, NewMessage, Verdict};
use easyim_proto::ChatType;
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use super::client::Client;
use super::settings::{BeforeSendSettings, OnError};
use super::{signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// The longest reason passed on to the sender, in bytes.
const MAX_REASON: usize = 256;
/// Idle connections kept to the hook.
const IDLE: usize = 32;
/// What the sender reads when the hook failed and `BEFORE_SEND_ON_ERROR` is `deny`.
const FAILED: &str = "the message could not be checked; try again later";

/// The hook's answer.
#[derive(Deserialize)]
struct Answer {
    action: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

/// The before-send hook over HTTP; see the [module docs](self).
pub struct HttpBeforeSend {
    settings: BeforeSendSettings,
    secret: String,
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for HttpBeforeSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBeforeSend")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HttpBeforeSend {
    /// The hook `settings` describe (`None` if `BEFORE_SEND_URL` is empty); requests are
    /// signed with `secret` unless it is empty.
    pub fn new(settings: &BeforeSendSettings, secret: &str) -> Option<Self> {
        settings.url.as_ref()?;
        Some(HttpBeforeSend {
            settings: settings.clone(),
            secret: secret.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn take(&self) -> Client {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        idle.unwrap_or_else(|| {
            Client::new(
                self.settings.url.clone().unwrap_or_default(),
                self.settings.tls.clone(),
            )
        })
    }

    fn give_back(&self, c: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE {
            idle.push(c);
        }
    }

    /// One call: the hook's verdict, or why there is none.
    async fn call(&self, msg: &NewMessage) -> Result<Verdict, String> {
        let body = json!({"message": {
            "id": msg.id,
            "from_user_id": msg.from.to_string(),
            "to_id": msg.to.to_string(),
            "chat_type": match msg.chat_type { ChatType::Single => "single", ChatType::Group => "group" },
            "msg_type": msg.msg_type,
            "content": msg.content,
            "timestamp": msg.timestamp,
        }})
        .to_string();
        let mut headers = Vec::new();
        if !self.secret.is_empty() {
            let ts = now_ms() as i64;
            let sig = signature(self.secret.as_bytes(), ts, body.as_bytes());
            headers.push((TIMESTAMP_HEADER, ts.to_string()));
            headers.push((SIGNATURE_HEADER, sig));
        }
        let mut client = self.take();
        let answer = client
            .post_read(Bytes::from(body), &headers)
            .await
            .map_err(|e| e.to_string())?;
        self.give_back(client);
        let a: Answer =
            serde_json::from_slice(&answer).map_err(|e| format!("not a verdict ({e})"))?;
        match a.action.as_str() {
            "allow" => Ok(Verdict::Allow),
            "refuse" => {
                let mut reason = a.reason.unwrap_or_else(|| "refused".to_owned());
                if reason.len() > MAX_REASON {
                    let mut end = MAX_REASON;
                    while !reason.is_char_boundary(end) {
                        end -= 1;
                    }
                    reason.truncate(end);
                }
                Ok(Verdict::Refuse(reason))
            }
            "replace" => match a.content {
                Some(c) if !c.is_empty() && c.len() <= 64 * 1024 => Ok(Verdict::Replace(c)),
                _ => Err("replace without a content of 1 byte to 64 KiB".to_owned()),
            },
            other => Err(format!("unknown action {other:?}")),
        }
    }
}

#[async_trait]
impl BeforeSend for HttpBeforeSend {
    async fn check(&self, msg: &NewMessage) -> Verdict {
        let failure = match tokio::time::timeout(self.settings.timeout, self.call(msg)).await {
            Ok(Ok(v)) => return v,
            Ok(Err(e)) => e,
            Err(_) => format!("no answer within {:?}", self.settings.timeout),
        };
        warn!(error = %failure, id = %msg.id, on_error = ?self.settings.on_error, "before-send hook failed");
        match self.settings.on_error {
            OnError::Allow => Verdict::Allow,
            OnError::Deny => Verdict::Refuse(FAILED.to_owned()),
        }
    }
}
