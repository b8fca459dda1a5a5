//! Login (protocol.md section 3): the first frame must be an event (`msg_type` EVENT)
//! carrying an access token of its `from_user_id`, within `AUTH_TIMEOUT`. Its `to_user_id`
//! is not looked at (`KEEP_ALIVE` by convention), as the original server did not.

use std::sync::atomic::Ordering::Relaxed;

use easyim_proto::{frames, CodecError, ErrorCode, Msg, MsgType};
use futures::{Stream, StreamExt};
use tracing::{debug, instrument, warn};

use super::rate::TokenBucket;
use super::{Connection, Session};
use crate::auth::Grant;
use crate::error::AuthError;
use crate::types::UserId;

impl Connection {
    /// Sends a frame before login (ahead of any live frame).
    fn send(&self, msg: Msg) {
        self.handle.out().reply_msg(msg);
    }

    fn error(&self, code: ErrorCode, text: &str, frame: Option<&Msg>) {
        self.node.metrics.errors.fetch_add(1, Relaxed);
        let (id, seq) = frame.map_or(("", 0), |m| (m.id.as_str(), m.seq));
        self.send(frames::error(code, text, "", id, seq));
    }

    /// Reads and checks the login frame, registers the connection in the hub, and answers it.
    /// `None` if the connection must close (its answer queued).
    ///
    /// The connection is registered before `SUCCESS` is queued, so that once the peer holds
    /// `SUCCESS` a revoke finds its connection (live frames wait for the replay anyway, so
    /// none overtakes the answer). A revoke that ran between the token check and the
    /// registration found nothing to close: the hub counts revocations, and when one happened
    /// meanwhile the token is checked again.
    #[instrument(level = "debug", skip_all)]
    pub(super) async fn login<S>(self, frames: &mut S) -> Option<Session>
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let msg = self.first_frame(frames).await?;
        let node = self.node.clone();
        let hub = node.router.hub();
        let revocations = hub.revocations();
        let user = self.verify(&msg).await?;
        let count = hub.register(user, self.handle.clone());
        if hub.revocations() != revocations && self.verify(&msg).await.is_none() {
            debug!(
                user,
                conn = self.id,
                "the token was revoked during its login"
            );
            hub.unregister(user, self.id);
            return None;
        }
        let user_str = user.to_string();
        self.send(frames::login_success(&user_str, &msg.id, msg.seq));
        node.metrics.logins.fetch_add(1, Relaxed);
        node.connected(user, count);
        if count == 1 {
            if let Some(events) = node.events.get() {
                events.presence(user, true);
            }
        }
        let bucket = (node.config.rate_limit > 0).then(|| TokenBucket::new(node.config.rate_limit));
        Some(Session {
            node,
            user,
            user_str,
            handle: self.handle,
            bucket,
        })
    }

    /// The first frame, if it comes in time and is a login frame.
    async fn first_frame<S>(&self, frames: &mut S) -> Option<Msg>
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let node = &self.node;
        let first = tokio::select! {
            biased;
            _ = node.shutdown.cancelled() => {
                self.error(ErrorCode::Shutdown, "the server is stopping", None);
                return None;
            }
            r = tokio::time::timeout(node.config.auth_timeout, frames.next()) => r,
        };
        let msg = match first {
            Err(_) => {
                debug!("no login frame within AUTH_TIMEOUT");
                return None;
            }
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                self.error(e.code(), &e.to_string(), None);
                return None;
            }
            Ok(Some(Ok(m))) => m,
        };
        node.metrics.frames_in.fetch_add(1, Relaxed);
        // Any event logs in, whatever its `to_user_id`: the original's clients rely on it.
        if msg.msg_type != MsgType::Event as i32 {
            node.metrics.login_failures.fetch_add(1, Relaxed);
            self.error(
                ErrorCode::FirstMsg,
                "the first frame must be an event (msg_type 4) with an access token",
                Some(&msg),
            );
            return None;
        }
        Some(msg)
    }

    /// The user whose access token the login frame carries.
    async fn verify(&self, msg: &Msg) -> Option<UserId> {
        let node = &self.node;
        match node.auth.verify(&msg.access_token).await {
            Ok(c) if c.grant == Grant::Access && c.user.to_string() == msg.from_user_id => {
                Some(c.user)
            }
            Ok(_) => {
                node.metrics.login_failures.fetch_add(1, Relaxed);
                self.error(
                    ErrorCode::Auth,
                    "the token is not an access token of from_user_id",
                    Some(msg),
                );
                None
            }
            Err(AuthError::Storage(e)) => {
                warn!(error = %e, conn = self.id, "storage failed during login");
                self.error(
                    ErrorCode::Internal,
                    "storage is unavailable, try again",
                    Some(msg),
                );
                None
            }
            Err(e) => {
                node.metrics.login_failures.fetch_add(1, Relaxed);
                self.error(ErrorCode::Auth, &e.to_string(), Some(msg));
                None
            }
        }
    }
}
