//! What one user is to another beyond friendship: blocks, and who may send 1:1 messages.

use std::fmt;
use std::str::FromStr;

/// Who may send a 1:1 message to a user (`DIRECT_MESSAGES`, one setting for the server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DirectMessages {
    /// Any user (as before the setting existed).
    #[default]
    Anyone,
    /// Only the recipient's friends: a message from anyone else is `E_FORBIDDEN`.
    Friends,
}

impl DirectMessages {
    /// The setting's value as written: `anyone` or `friends`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectMessages::Anyone => "anyone",
            DirectMessages::Friends => "friends",
        }
    }
}

impl FromStr for DirectMessages {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "anyone" => Ok(DirectMessages::Anyone),
            "friends" => Ok(DirectMessages::Friends),
            other => Err(format!("unknown value `{other}`")),
        }
    }
}

impl fmt::Display for DirectMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a recipient stands to a sender, read in one step before a 1:1 message or a friend
/// request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The recipient blocked the sender.
    pub blocked: bool,
    /// They are friends.
    pub friends: bool,
}
