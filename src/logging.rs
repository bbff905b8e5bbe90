//! The log's one gate for secrets: every line is scrubbed before it is written, whatever
//! logged it (our warnings, serenity's debug spans that dump whole requests, reqwest's errors
//! that name their URL). Replaced wherever they appear: the bot token; any Discord interaction
//! token, which is the base64 of `interaction:{id}:…` and so starts `aW50ZXJhY3Rpb246`; and the
//! token part of any interaction or webhook URL (`/interactions/{id}/{token}/…`,
//! `/webhooks/{app}/{token}/…`), whatever its shape.

use std::io::Write;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use tracing_subscriber::fmt::MakeWriter;

/// What stands in a log line where a secret was.
pub const REDACTED: &str = "[redacted]";

static TOKEN_IN_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(/(?:interactions|webhooks)/\d+/)[^/\s?#)\x22']+").expect("valid regex")
});

static INTERACTION_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"aW50ZXJhY3Rpb246[A-Za-z0-9+/=_\-]*").expect("valid regex"));

/// `text` without `secrets`, interaction tokens, and the tokens of interaction and webhook URLs.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let out = TOKEN_IN_URL.replace_all(text, format!("${{1}}{REDACTED}"));
    let mut out = INTERACTION_TOKEN.replace_all(&out, REDACTED).into_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret.as_str(), REDACTED);
    }
    out
}

/// A [`MakeWriter`] for the log: each event is written to stderr only after [`redact`].
#[derive(Clone, Default)]
pub struct Redacting {
    secrets: Arc<Vec<String>>,
}

impl Redacting {
    /// Scrubs these secrets (the bot token) besides the tokens in URLs.
    pub fn new(secrets: Vec<String>) -> Self {
        Self {
            secrets: Arc::new(secrets),
        }
    }
}

/// One event's text, written scrubbed when the event is done.
pub struct Line {
    buffer: Vec<u8>,
    secrets: Arc<Vec<String>>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = redact(&String::from_utf8_lossy(&self.buffer), &self.secrets);
        self.buffer.clear();
        std::io::stderr().lock().write_all(text.as_bytes())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            buffer: Vec::with_capacity(256),
            secrets: self.secrets.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_the_log() {
        let token = "MTA5.bot-token.abcdefgh".to_owned();
        let line = format!(
            "WARN could not answer: error sending request for url (http://127.0.0.1:5/api/v10/webhooks/4242/aW50ZXJhY3Rpb246MTIz/messages/@original): timed out; Authorization: Bot {token}"
        );
        let clean = redact(&line, std::slice::from_ref(&token));
        assert!(!clean.contains(&token), "{clean}");
        assert!(!clean.contains("aW50ZXJhY3Rpb246MTIz"), "{clean}");
        assert!(
            clean.contains("/webhooks/4242/[redacted]/messages/@original"),
            "{clean}"
        );
        let dumped = redact(
            r#"request{route=EditOriginalInteractionResponse { application_id: 1, token: "aW50ZXJhY3Rpb246OTk6YWJj" }}"#,
            &[],
        );
        assert!(!dumped.contains("aW50ZXJhY3Rpb246OTk6YWJj"), "{dumped}");
        let callback = redact(
            "url (http://x/api/v10/interactions/99/token-7/callback)",
            &[],
        );
        assert_eq!(
            callback,
            "url (http://x/api/v10/interactions/99/[redacted]/callback)"
        );
        // Channel URLs carry no secret and stay readable.
        let channel = "http://x/api/v10/channels/100/messages";
        assert_eq!(redact(channel, &[]), channel);
    }
}
