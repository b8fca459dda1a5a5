use crate::codec::{Format, FormatPolicy};

/// Why a frame could not be turned into a [`crate::Msg`].
///
/// A frame that is not complete yet is not an error: decoders return `Ok(None)` for it.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The announced or accumulated payload is larger than the configured maximum. Reported as
    /// soon as the length header (or the unterminated line) passes the limit, before the payload
    /// is buffered.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced length, or the bytes buffered so far for a line.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The payload is not a valid `Msg` in the format it claims.
    #[error("undecodable {format} payload: {reason}")]
    Undecodable {
        /// The format the payload was read as.
        format: Format,
        /// What the decoder said.
        reason: String,
    },
    /// The payload is in a format that `MSG_FORMAT` does not allow.
    #[error("{format} frames are not accepted (MSG_FORMAT={policy})")]
    FormatNotAllowed {
        /// The format of the refused payload.
        format: Format,
        /// The policy in force.
        policy: FormatPolicy,
    },
    /// The underlying stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl CodecError {
    /// The protocol error code (protocol.md section 6) this error is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            CodecError::TooLarge { .. } => ErrorCode::TooLarge,
            _ => ErrorCode::BadFrame,
        }
    }
}

/// The error codes of protocol.md section 6, carried in NOTIFY frames as `"<CODE>: <text>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The first frame is not an event (`msg_type` 4) (connection closed).
    FirstMsg,
    /// Bad token on login (closed) or a spoofed `from_user_id` (kept).
    Auth,
    /// The user's tokens were revoked (closed).
    AuthRevoked,
    /// A payload that does not decode (closed).
    BadFrame,
    /// A payload over `MAX_FRAME_BYTES` (closed).
    TooLarge,
    /// A decodable message that breaks a rule (kept).
    BadMsg,
    /// Unknown recipient user (kept).
    NoUser,
    /// Unknown group (kept).
    NoGroup,
    /// The sender is not a member of the group (kept).
    NotMember,
    /// A receipt for an unknown message (kept).
    NoMsg,
    /// Over the per-connection rate limit; the frame was dropped (kept).
    RateLimit,
    /// Idle past `SERVER_DROP_AFTER` (closed).
    Idle,
    /// The server is stopping (closed).
    Shutdown,
    /// Storage failure; nothing was acked (kept).
    Internal,
    /// The sender is muted in the group, or the group is muted for members (kept; the message
    /// is not stored).
    Muted,
    /// The recipient blocked the sender (kept; the message is not stored).
    Blocked,
    /// The sender may not do this (a 1:1 message to a user who takes messages from friends
    /// only, say) (kept; nothing is stored).
    Forbidden,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `E_NO_USER`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FirstMsg => "E_FIRST_MSG",
            ErrorCode::Auth => "E_AUTH",
            ErrorCode::AuthRevoked => "E_AUTH_REVOKED",
            ErrorCode::BadFrame => "E_BAD_FRAME",
            ErrorCode::TooLarge => "E_TOO_LARGE",
            ErrorCode::BadMsg => "E_BAD_MSG",
            ErrorCode::NoUser => "E_NO_USER",
            ErrorCode::NoGroup => "E_NO_GROUP",
            ErrorCode::NotMember => "E_NOT_MEMBER",
            ErrorCode::NoMsg => "E_NO_MSG",
            ErrorCode::RateLimit => "E_RATE_LIMIT",
            ErrorCode::Idle => "E_IDLE",
            ErrorCode::Shutdown => "E_SHUTDOWN",
            ErrorCode::Internal => "E_INTERNAL",
            ErrorCode::Muted => "E_MUTED",
            ErrorCode::Blocked => "E_BLOCKED",
            ErrorCode::Forbidden => "E_FORBIDDEN",
        }
    }

    /// Whether the server closes the connection after sending this error, once logged in.
    ///
    /// `E_AUTH` answers `false`: after login it keeps the connection. A failed login closes the
    /// connection whatever the code, so the session decides that case itself.
    pub fn closes(self) -> bool {
        matches!(
            self,
            ErrorCode::FirstMsg
                | ErrorCode::AuthRevoked
                | ErrorCode::BadFrame
                | ErrorCode::TooLarge
                | ErrorCode::Idle
                | ErrorCode::Shutdown
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
