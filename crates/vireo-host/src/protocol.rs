//! The request/reply protocol between Vireo (unprivileged) and `vireo-helper` (root).
//!
//! One JSON request on the helper's stdin, one JSON reply on its stdout. Requests carry
//! intents, never file contents or paths: the helper computes every change itself.

use serde::{Deserialize, Serialize};

/// Bumped whenever a request or reply changes shape.
pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub protocol: u32,
    #[serde(flatten)]
    pub intent: Intent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "kebab-case")]
pub enum Intent {
    /// Asks the helper who it is; the GUI uses it to check the helper is installed and
    /// speaks the same protocol before offering host changes.
    Hello,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Reply {
    Hello { protocol: u32, version: String },
    Refused { reason: String },
    Failed { message: String },
}

impl Request {
    pub fn new(intent: Intent) -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            intent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_form_is_stable() {
        let json = serde_json::to_string(&Request::new(Intent::Hello)).unwrap_or_default();
        assert_eq!(json, r#"{"protocol":1,"intent":"hello"}"#);
        let back: Request = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.intent, Intent::Hello);
    }
}
