//! A fake Discord REST API on 127.0.0.1 for the real serenity HTTP client (proxy mode): it
//! stores posted messages per channel, honours `enforce_nonce` (a repeated nonce returns the
//! message already created), and can answer a channel with errors.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A message as the fake received it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub id: u64,
    pub channel_id: u64,
    pub body: Value,
}

impl Posted {
    pub fn embeds(&self) -> Vec<Value> {
        self.body["embeds"].as_array().cloned().unwrap_or_default()
    }

    pub fn nonce(&self) -> Option<&str> {
        self.body["nonce"].as_str()
    }
}

#[derive(Default)]
struct DiscordState {
    next_id: u64,
    messages: Vec<Posted>,
    /// Statuses to answer a channel's next posts with, in order.
    scripted: HashMap<u64, VecDeque<u16>>,
    /// Channels that always answer with this status.
    broken: HashMap<u64, u16>,
    /// Posts to a channel whose message is stored but whose answer is lost (a 502 instead).
    lost_answers: HashMap<u64, usize>,
    /// Post requests per channel, answered or not.
    requests: HashMap<u64, usize>,
}

pub struct FakeDiscord {
    pub base: String,
    state: Arc<Mutex<DiscordState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(DiscordState {
            next_id: 1_000_000,
            ..DiscordState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/api/v10/gateway",
                get(move || async move { axum::Json(json!({ "url": format!("ws://{addr}") })) }),
            )
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            state,
            server,
        }
    }

    /// serenity's HTTP client, sending every call to this fake.
    pub fn http(&self) -> Arc<serenity::http::Http> {
        Arc::new(
            serenity::http::HttpBuilder::new("Bot fake-token")
                .proxy(self.base.clone())
                .ratelimiter_disabled(true)
                .build(),
        )
    }

    /// The channel's next posts get these statuses (then it works again).
    pub fn script(&self, channel: u64, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .entry(channel)
            .or_default()
            .extend(statuses);
    }

    /// The channel's next `n` posts are stored, but answered with a 502 as if the answer was
    /// lost on the way back.
    pub fn lose_answers(&self, channel: u64, n: usize) {
        *self
            .state
            .lock()
            .unwrap()
            .lost_answers
            .entry(channel)
            .or_default() += n;
    }

    /// The channel answers every post with `status`.
    pub fn break_channel(&self, channel: u64, status: u16) {
        self.state.lock().unwrap().broken.insert(channel, status);
    }

    pub fn messages(&self, channel: u64) -> Vec<Posted> {
        self.state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.channel_id == channel)
            .cloned()
            .collect()
    }

    pub fn requests(&self, channel: u64) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .get(&channel)
            .copied()
            .unwrap_or(0)
    }
}

fn error(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    let body = if status == 429 {
        // Discord's 429 body has no `code`.
        json!({ "message": "You are being rate limited.", "retry_after": 0.05, "global": false })
    } else {
        json!({ "message": code.canonical_reason().unwrap_or("error"), "code": if status == 403 { 50001 } else { 10003 } })
    };
    (code, axum::Json(body)).into_response()
}

async fn create_message(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path(channel): Path<u64>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = state.lock().unwrap();
    *s.requests.entry(channel).or_default() += 1;
    if let Some(status) = s.broken.get(&channel).copied() {
        return error(status);
    }
    if let Some(status) = s.scripted.get_mut(&channel).and_then(VecDeque::pop_front) {
        return error(status);
    }
    let nonce = body["nonce"].as_str().map(str::to_owned);
    let existing = s.messages.iter().find(|m| {
        m.channel_id == channel
            && body["enforce_nonce"] == json!(true)
            && nonce.is_some()
            && m.nonce() == nonce.as_deref()
    });
    let posted = match existing {
        Some(m) => m.clone(),
        None => {
            s.next_id += 1;
            let m = Posted {
                id: s.next_id,
                channel_id: channel,
                body: body.clone(),
            };
            s.messages.push(m.clone());
            m
        }
    };
    if let Some(n) = s.lost_answers.get_mut(&channel).filter(|n| **n > 0) {
        *n -= 1;
        return error(502);
    }
    axum::Json(json!({
        "id": posted.id.to_string(),
        "channel_id": channel.to_string(),
        "author": { "id": "42", "username": "briefbot", "discriminator": "0000", "bot": true },
        "content": posted.body["content"].as_str().unwrap_or(""),
        "timestamp": "2026-11-28T00:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": posted.body["embeds"].clone(),
        "pinned": false,
        "type": 0,
        "nonce": posted.body["nonce"].clone(),
    }))
    .into_response()
}
