//! A fake Discord on 127.0.0.1 for the real serenity client: the REST API in proxy mode and a
//! gateway websocket (HELLO, IDENTIFY, READY, heartbeats, and INTERACTION_CREATE events pushed
//! by the test).
//!
//! It copies Discord's documented behaviour, the unkind parts included:
//! - message ids are snowflakes that carry their creation time;
//! - `enforce_nonce` returns the message already created for a nonce only while Discord
//!   remembers it: for a few minutes (the window is undocumented; settable here, seconds in
//!   tests), after which the same nonce creates a second message;
//! - `GET /channels/{id}/messages` lists a channel's messages newest first (`limit`, `before`,
//!   `after`) without their nonces, and needs Read Message History (deniable per channel);
//! - a post can be created and its answer lost (a 502) or never sent at all (a stall);
//! - channels can answer with scripted or permanent errors; the rate limits can be enforced;
//! - every message and interaction reply is checked for `allowed_mentions`: one that could ping
//!   fails the test when the fake is dropped;
//! - every request is held to Discord's published OpenAPI description ([`contract`]): a path,
//!   method, query parameter or JSON body it does not allow fails the test when the fake is
//!   dropped.

#[path = "contract.rs"]
pub mod contract;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const APP_ID: u64 = 4242;
pub const BOT_USER: u64 = 42;

/// A message as the fake received it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub id: u64,
    pub channel_id: u64,
    pub body: Value,
    /// When it was created, for the nonce window.
    pub created: std::time::Instant,
}

impl Posted {
    pub fn embeds(&self) -> Vec<Value> {
        self.body["embeds"].as_array().cloned().unwrap_or_default()
    }

    pub fn nonce(&self) -> Option<&str> {
        self.body["nonce"].as_str()
    }
}

/// How long Discord remembers a nonce unless a test says otherwise ("the past few minutes").
pub const NONCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(5 * 60);
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

#[derive(Default)]
struct DiscordState {
    /// The last snowflake handed out.
    last_id: u64,
    /// How long a nonce is remembered.
    nonce_window: std::time::Duration,
    /// Channels whose message history the bot may not read (403 on GET messages).
    history_denied: std::collections::HashSet<u64>,
    /// Posts to a channel whose message is created but never answered.
    stalled: HashMap<u64, usize>,
    /// How late a channel's next posts reach Discord, in order (the limits count from arrival).
    late: HashMap<u64, VecDeque<std::time::Duration>>,
    /// Reads of channel messages, per channel.
    reads: HashMap<u64, usize>,
    /// Interaction callbacks are never answered.
    interactions_stalled: bool,
    messages: Vec<Posted>,
    /// Statuses to answer a channel's next posts with, in order.
    scripted: HashMap<u64, VecDeque<u16>>,
    /// Requests Discord's OpenAPI description does not allow ([`contract`]).
    violations: Vec<String>,
    /// Channels that always answer with this status.
    broken: HashMap<u64, u16>,
    /// Posts to a channel whose message is stored but whose answer is lost (a 502 instead).
    lost_answers: HashMap<u64, usize>,
    /// Post requests per channel, answered or not.
    requests: HashMap<u64, usize>,
    /// The last bulk-overwritten command list, by scope (`global` or the guild id).
    commands: HashMap<String, Value>,
    /// Interaction callbacks (`/interactions/{id}/{token}/callback`) by token.
    callbacks: HashMap<String, Value>,
    /// Edits of the original response (after a deferral) by token.
    edits: HashMap<String, Value>,
    /// Follow-up messages by token.
    followups: HashMap<String, Vec<Value>>,
    /// Gateway connections made (IDENTIFY received).
    identified: usize,
    /// The `shard` of each IDENTIFY, in order.
    identified_shards: Vec<Value>,
    /// While set, gateway connections are refused (as during an outage).
    gateway_down: bool,
    /// The guilds the bot is in: each shard's READY lists those on it.
    guilds: Vec<u64>,
    /// Interaction callbacks received, by token (an interaction answered twice has 2).
    callback_counts: HashMap<String, usize>,
    /// 429s answered because of the global limit (50 requests a second in all).
    globally_limited: usize,
    /// Woken whenever an interaction answer arrives.
    answered: Arc<tokio::sync::Notify>,
    /// Whether Discord's rate limits are enforced: 50 requests a second in all, 5 messages per
    /// channel in 5 seconds; a request over either gets a 429.
    enforce_limits: bool,
    recent: VecDeque<std::time::Instant>,
    recent_by_channel: HashMap<u64, VecDeque<std::time::Instant>>,
    /// 429s answered, per channel.
    rate_limited: HashMap<u64, usize>,
    /// Replies and messages checked for `allowed_mentions`, by kind.
    guarded: HashMap<&'static str, usize>,
    /// Replies and messages that could ping: what and the body.
    unguarded: Vec<String>,
}

impl DiscordState {
    /// A new snowflake: creation time in its top bits, increasing.
    fn snowflake(&mut self) -> u64 {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.last_id = ((ms - DISCORD_EPOCH_MS) << 22).max(self.last_id + 1);
        self.last_id
    }

    /// Checks that a message or interaction reply allows no mention. Discord pings whatever
    /// the content of a message without `allowed_mentions` names (`@everyone`, `<@id>`,
    /// `<@&role>`), so one without it is recorded as a fault and fails the test when the fake is
    /// dropped.
    fn guard(&mut self, kind: &'static str, message: &Value) {
        let allowed = &message["allowed_mentions"];
        let empty = |field: &str| {
            allowed
                .get(field)
                .is_none_or(|v| v.as_array().is_some_and(Vec::is_empty))
        };
        let none_allowed = allowed["parse"].as_array().is_some_and(Vec::is_empty)
            && empty("users")
            && empty("roles")
            && allowed["replied_user"].as_bool() != Some(true);
        *self.guarded.entry(kind).or_default() += 1;
        if !none_allowed {
            self.unguarded
                .push(format!("{kind} without allowed_mentions none: {message}"));
        }
    }
}

pub struct FakeDiscord {
    pub base: String,
    state: Arc<Mutex<DiscordState>>,
    events: mpsc::UnboundedSender<Value>,
    server: tokio::task::JoinHandle<()>,
    gateway: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
        self.gateway.abort();
        if !std::thread::panicking() {
            let violations = self.state.lock().unwrap().violations.clone();
            assert!(
                violations.is_empty(),
                "the bot sent requests Discord's OpenAPI description does not allow:\n{}",
                violations.join("\n")
            );
            let unguarded = self.unguarded();
            assert!(
                unguarded.is_empty(),
                "the bot sent what could ping:\n{}",
                unguarded.join("\n")
            );
        }
    }
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(DiscordState {
            nonce_window: NONCE_WINDOW,
            ..DiscordState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_addr = ws_listener.local_addr().unwrap();
        let app = Router::new()
            .route("/api/v10/gateway", get(move || async move { axum::Json(json!({ "url": format!("ws://{ws_addr}") })) }))
            .route("/api/v10/gateway/bot", get(move || async move {
                axum::Json(json!({ "url": format!("ws://{ws_addr}"), "shards": 1,
                    "session_start_limit": { "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1 } }))
            }))
            .route("/api/v10/channels/{channel}/messages", post(create_message).get(list_messages))
            .route("/api/v10/users/@me", get(|| async { axum::Json(user_value(BOT_USER)) }))
            .route("/api/v10/applications/{app}/commands", put(set_global_commands))
            .route("/api/v10/applications/{app}/guilds/{guild}/commands", put(set_guild_commands))
            .route("/api/v10/interactions/{id}/{token}/callback", post(interaction_callback))
            .route("/api/v10/webhooks/{app}/{token}/messages/@original", patch(edit_original))
            .route("/api/v10/webhooks/{app}/{token}", post(create_followup))
            .layer(axum::middleware::from_fn_with_state(state.clone(), hold_to_contract))
            .with_state(state.clone());
        // Like Discord's servers, answer without Nagle's delay (else a reply can wait 40 ms for
        // the peer's delayed ACK).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let (events, rx) = mpsc::unbounded_channel();
        let gateway = tokio::spawn(serve_gateway(
            ws_listener,
            ws_addr.to_string(),
            rx,
            state.clone(),
        ));
        Self {
            base: format!("http://{addr}"),
            state,
            events,
            server,
            gateway,
        }
    }

    /// Whether any commands are registered for `scope` now (no waiting).
    pub fn has_commands(&self, scope: &str) -> bool {
        self.state.lock().unwrap().commands.contains_key(scope)
    }

    /// The commands registered for `scope` (`global` or a guild id), once there are some.
    pub async fn registered_commands(&self, scope: &str) -> Value {
        // Generous: a loaded CI machine may take a while to start a process and connect.
        for _ in 0..3000 {
            if let Some(c) = self.state.lock().unwrap().commands.get(scope) {
                return c.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no commands were registered for {scope}");
    }

    /// Sends an INTERACTION_CREATE over the gateway and waits for the bot's final answer: the
    /// callback's `data`, or for a deferred answer (type 5) the edit that follows. Returns
    /// (callback type, data).
    pub async fn interact(&self, interaction: Value) -> (u64, Value) {
        let token = interaction["token"].as_str().unwrap().to_owned();
        let answered = self.state.lock().unwrap().answered.clone();
        self.events.send(interaction).unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let notified = answered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let s = self.state.lock().unwrap();
                if let Some(cb) = s.callbacks.get(&token) {
                    let kind = cb["type"].as_u64().unwrap();
                    if kind != 5 {
                        return (kind, cb["data"].clone());
                    }
                    if let Some(edit) = s.edits.get(&token) {
                        let mut data = edit.clone();
                        data["flags"] = cb["data"]["flags"].clone();
                        return (5, data);
                    }
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("the bot never answered interaction {token}");
            }
        }
    }

    /// Follow-up messages sent for an interaction.
    pub fn followups(&self, token: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .followups
            .get(token)
            .cloned()
            .unwrap_or_default()
    }

    /// Replies and messages that allowed mentions (the fake fails the test with them when it
    /// is dropped).
    pub fn unguarded(&self) -> Vec<String> {
        self.state.lock().unwrap().unguarded.clone()
    }

    /// How many replies and messages of each kind were checked for `allowed_mentions`: `channel
    /// message`, `reply`, `ephemeral reply`, `button update`, `deferred edit`, `follow-up`.
    pub fn guarded(&self) -> HashMap<&'static str, usize> {
        self.state.lock().unwrap().guarded.clone()
    }

    /// Sends a gateway event (`GUILD_DELETE`, `CHANNEL_DELETE`, …) to the bot.
    pub fn dispatch(&self, event: &str, d: Value) {
        self.events.send(json!({ EVENT: event, "d": d })).unwrap();
    }

    /// The `shard` field (`[id, total]`) of every IDENTIFY so far.
    pub fn identified_shards(&self) -> Vec<Value> {
        self.state.lock().unwrap().identified_shards.clone()
    }

    /// Gateway sessions identified so far.
    pub fn identified(&self) -> usize {
        self.state.lock().unwrap().identified
    }

    /// Closes the bot's gateway connection and refuses new ones until [`Self::restore_gateway`].
    pub fn drop_gateway(&self) {
        self.state.lock().unwrap().gateway_down = true;
        self.events.send(json!({ CLOSE: true })).unwrap();
    }

    /// Accepts gateway connections again.
    pub fn restore_gateway(&self) {
        self.state.lock().unwrap().gateway_down = false;
    }

    /// The bot's HTTP client as `briefbot run` builds it, sending every call to this fake.
    pub fn http(&self) -> Arc<serenity::http::Http> {
        self.http_with_timeout(briefbot::bot::REST_TIMEOUT)
    }

    /// [`Self::http`] with another REST timeout.
    pub fn http_with_timeout(&self, timeout: std::time::Duration) -> Arc<serenity::http::Http> {
        let base = url::Url::parse(&self.base).unwrap();
        let token = briefbot::config::Secret::new("fake-token".into());
        Arc::new(briefbot::bot::http_client_with_timeout(&token, Some(&base), timeout).unwrap())
    }

    /// Discord forgets a nonce this long after the message it created (default [`NONCE_WINDOW`]).
    pub fn forget_nonces_after(&self, window: std::time::Duration) {
        self.state.lock().unwrap().nonce_window = window;
    }

    /// The bot may not read the channel's message history (no Read Message History).
    pub fn deny_history(&self, channel: u64) {
        self.state.lock().unwrap().history_denied.insert(channel);
    }

    /// The bot may read the channel's message history again (the permission was granted).
    pub fn allow_history(&self, channel: u64) {
        self.state.lock().unwrap().history_denied.remove(&channel);
    }

    /// The channel's next `n` posts are created, but never answered (the connection stays open
    /// until the client gives up).
    pub fn stall_answers(&self, channel: u64, n: usize) {
        *self
            .state
            .lock()
            .unwrap()
            .stalled
            .entry(channel)
            .or_default() += n;
    }

    /// The channel's next post reaches Discord `by` after it was sent (a slow connection):
    /// Discord's limits count it from when it arrives.
    pub fn arrive_late(&self, channel: u64, by: std::time::Duration) {
        self.state
            .lock()
            .unwrap()
            .late
            .entry(channel)
            .or_default()
            .push_back(by);
    }

    /// Interaction callbacks are taken and never answered from now on.
    pub fn stall_interactions(&self) {
        self.state.lock().unwrap().interactions_stalled = true;
    }

    /// Sends an INTERACTION_CREATE without waiting for an answer.
    pub fn send_interaction(&self, interaction: Value) {
        self.events.send(interaction).unwrap();
    }

    /// Ends every stall and lost answer still scripted.
    pub fn clear_faults(&self) {
        let mut s = self.state.lock().unwrap();
        s.stalled.clear();
        s.lost_answers.clear();
    }

    /// Reads of the channel's messages (`GET /channels/{id}/messages`).
    pub fn reads(&self, channel: u64) -> usize {
        self.state
            .lock()
            .unwrap()
            .reads
            .get(&channel)
            .copied()
            .unwrap_or(0)
    }

    /// The channel's next posts get these statuses (200: posted as usual), then it works again.
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

    /// Enforces Discord's limits from now on: 50 requests a second, 5 messages per channel in 5
    /// seconds.
    pub fn enforce_limits(&self) {
        self.state.lock().unwrap().enforce_limits = true;
    }

    /// The bot is in these guilds: each shard's READY lists those on it.
    pub fn set_guilds(&self, guilds: &[u64]) {
        self.state.lock().unwrap().guilds = guilds.to_vec();
    }

    /// How many times the interaction with this token was answered (its callback posted).
    pub fn callbacks(&self, token: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .callback_counts
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// 429s answered because all requests together went over 50 a second.
    pub fn globally_limited(&self) -> usize {
        self.state.lock().unwrap().globally_limited
    }

    /// 429s answered to posts in each channel.
    pub fn rate_limited(&self) -> HashMap<u64, usize> {
        self.state.lock().unwrap().rate_limited.clone()
    }

    /// Every message posted, in every channel.
    pub fn all_messages(&self) -> usize {
        self.state.lock().unwrap().messages.len()
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

/// Holds every request to Discord's published contract before the fake answers it; what it
/// refuses is kept and fails the test (see `Drop`). A body that is not JSON (multipart with
/// files; the bot sends none) is not checked.
async fn hold_to_contract(
    State(state): State<Arc<Mutex<DiscordState>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    if let Err(violation) = contract::check(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        json.as_ref(),
    ) {
        state.lock().unwrap().violations.push(violation);
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

fn error(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    let body = if status == 429 {
        // Discord's 429 body has no `code`.
        json!({ "message": "You are being rate limited.", "retry_after": 0.05, "global": false })
    } else {
        // Discord's JSON error codes: Missing Access, Unknown Channel, Cannot send an empty
        // message; a 401 carries code 0.
        let code_of = match status {
            403 => 50001,
            404 => 10003,
            400 => 50006,
            _ => 0,
        };
        json!({ "message": code.canonical_reason().unwrap_or("error"), "code": code_of })
    };
    (code, axum::Json(body)).into_response()
}

async fn create_message(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path(channel): Path<u64>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let late = state
        .lock()
        .unwrap()
        .late
        .get_mut(&channel)
        .and_then(VecDeque::pop_front);
    if let Some(by) = late {
        tokio::time::sleep(by).await;
    }
    match create_message_now(&state, channel, &body) {
        Some(answer) => answer,
        None => {
            // Created, and never answered: the client times out.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            error(504)
        }
    }
}

/// Creates the message (or not) and the answer; `None` when the answer is never to be sent.
fn create_message_now(state: &Mutex<DiscordState>, channel: u64, body: &Value) -> Option<Response> {
    let mut s = state.lock().unwrap();
    *s.requests.entry(channel).or_default() += 1;
    s.guard("channel message", body);
    if let Some(status) = s.broken.get(&channel).copied() {
        return Some(error(status));
    }
    if let Some(status) = s.scripted.get_mut(&channel).and_then(VecDeque::pop_front)
        && status != 200
    {
        return Some(error(status));
    }
    if s.enforce_limits {
        let now = std::time::Instant::now();
        let second = std::time::Duration::from_secs(1);
        let window = std::time::Duration::from_secs(5);
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= second)
        {
            s.recent.pop_front();
        }
        let over_global = s.recent.len() >= 50;
        let per_channel = s.recent_by_channel.entry(channel).or_default();
        while per_channel
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            per_channel.pop_front();
        }
        let over_channel = per_channel.len() >= 5;
        if over_global || over_channel {
            if over_global {
                s.globally_limited += 1;
            }
            *s.rate_limited.entry(channel).or_default() += 1;
            return Some(error(429));
        }
        s.recent.push_back(now);
        s.recent_by_channel
            .entry(channel)
            .or_default()
            .push_back(now);
    }
    // A repeated nonce returns the message it created, while Discord still remembers it.
    let nonce = body["nonce"].as_str().map(str::to_owned);
    let window = s.nonce_window;
    let existing = s.messages.iter().find(|m| {
        m.channel_id == channel
            && body["enforce_nonce"] == json!(true)
            && nonce.is_some()
            && m.nonce() == nonce.as_deref()
            && m.created.elapsed() < window
    });
    let posted = match existing {
        Some(m) => m.clone(),
        None => {
            let m = Posted {
                id: s.snowflake(),
                channel_id: channel,
                body: body.clone(),
                created: std::time::Instant::now(),
            };
            s.messages.push(m.clone());
            m
        }
    };
    if let Some(n) = s.lost_answers.get_mut(&channel).filter(|n| **n > 0) {
        *n -= 1;
        return Some(error(502));
    }
    if let Some(n) = s.stalled.get_mut(&channel).filter(|n| **n > 0) {
        *n -= 1;
        return None;
    }
    let mut message = message_value(posted.id, channel, &posted.body);
    message["nonce"] = posted.body["nonce"].clone();
    Some(axum::Json(message).into_response())
}

/// The query of `GET /channels/{id}/messages`.
#[derive(Default)]
struct ListQuery {
    limit: Option<usize>,
    before: Option<u64>,
    after: Option<u64>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Self {
        let mut q = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "limit" => q.limit = value.parse().ok(),
                "before" => q.before = value.parse().ok(),
                "after" => q.after = value.parse().ok(),
                _ => {}
            }
        }
        q
    }
}

/// `GET /channels/{id}/messages`: newest first, without nonces; with `after`, the oldest
/// `limit` messages after it (still newest first), as Discord pages.
async fn list_messages(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path(channel): Path<u64>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let q = ListQuery::parse(query.as_deref());
    let mut s = state.lock().unwrap();
    *s.reads.entry(channel).or_default() += 1;
    if s.history_denied.contains(&channel) {
        let body = json!({ "message": "Missing Access", "code": 50001 });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        let body = json!({ "message": "Invalid Form Body", "code": 50035 });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let mut found: Vec<&Posted> = s
        .messages
        .iter()
        .filter(|m| m.channel_id == channel)
        .filter(|m| q.after.is_none_or(|a| m.id > a) && q.before.is_none_or(|b| m.id < b))
        .collect();
    found.sort_by_key(|m| m.id);
    let page: Vec<&Posted> = if q.after.is_some() && q.before.is_none() {
        found.into_iter().take(limit).collect()
    } else {
        let skip = found.len().saturating_sub(limit);
        found.into_iter().skip(skip).collect()
    };
    let listed: Vec<Value> = page
        .iter()
        .rev()
        .map(|m| message_value(m.id, channel, &m.body))
        .collect();
    axum::Json(Value::Array(listed)).into_response()
}

async fn set_global_commands(
    State(state): State<Arc<Mutex<DiscordState>>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    register(&state, "global".into(), body, None)
}

async fn set_guild_commands(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path((_app, guild)): Path<(u64, u64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    register(&state, guild.to_string(), body, Some(guild))
}

fn register(
    state: &Mutex<DiscordState>,
    scope: String,
    body: Value,
    guild: Option<u64>,
) -> Response {
    let commands: Vec<Value> = body
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            c["id"] = json!((900 + i).to_string());
            c["application_id"] = json!(APP_ID.to_string());
            c["version"] = json!("1");
            c["type"] = c.get("type").cloned().unwrap_or(json!(1));
            if let Some(g) = guild {
                c["guild_id"] = json!(g.to_string());
            }
            c
        })
        .collect();
    state
        .lock()
        .unwrap()
        .commands
        .insert(scope, Value::Array(commands.clone()));
    axum::Json(Value::Array(commands)).into_response()
}

async fn interaction_callback(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path((_id, token)): Path<(u64, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let stalled = state.lock().unwrap().interactions_stalled;
    if stalled {
        // Never answered: the client gives up, with the URL (and its token) in its error.
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    let mut s = state.lock().unwrap();
    *s.callback_counts.entry(token.clone()).or_default() += 1;
    if s.callbacks.contains_key(&token) {
        // As Discord does: an interaction is answered once.
        let body =
            json!({ "message": "Interaction has already been acknowledged.", "code": 40060 });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    // Messages (4) and message updates (7); a deferral (5) has no content until its edit.
    match body["type"].as_u64() {
        Some(4) if body["data"]["flags"].as_u64().is_some_and(|f| f & 64 != 0) => {
            s.guard("ephemeral reply", &body["data"]);
        }
        Some(4) => s.guard("reply", &body["data"]),
        Some(7) => s.guard("button update", &body["data"]),
        _ => {}
    }
    s.callbacks.insert(token, body);
    s.answered.notify_waiters();
    StatusCode::NO_CONTENT.into_response()
}

async fn create_followup(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path((_app, token)): Path<(u64, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.guard("follow-up", &body);
    s.followups.entry(token).or_default().push(body.clone());
    drop(s);
    message_json(&body)
}

async fn edit_original(
    State(state): State<Arc<Mutex<DiscordState>>>,
    Path((_app, token)): Path<(u64, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.guard("deferred edit", &body);
    s.edits.insert(token, body.clone());
    s.answered.notify_waiters();
    drop(s);
    message_json(&body)
}

fn message_json(body: &Value) -> Response {
    axum::Json(message_value(1, 1, body)).into_response()
}

/// A message object as Discord returns it, of the bot's, with `body`'s content and embeds.
fn message_value(id: u64, channel: u64, body: &Value) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": { "id": BOT_USER.to_string(), "username": "briefbot", "discriminator": "0000", "bot": true },
        "content": body["content"].as_str().unwrap_or(""),
        "timestamp": chrono::DateTime::from_timestamp_millis(((id >> 22) + DISCORD_EPOCH_MS) as i64)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
    })
}

/// A user as an interaction carries it.
fn user_value(user: u64) -> Value {
    json!({ "id": user.to_string(), "username": format!("user{user}"), "discriminator": "0000" })
}

/// A guild member as an interaction carries it.
fn member_value(user: u64, permissions: &str) -> Value {
    json!({
        "user": user_value(user),
        "roles": [], "deaf": false, "mute": false, "flags": 0,
        "permissions": permissions, "joined_at": "2026-01-01T00:00:00.000000+00:00",
    })
}

/// The key of the event that makes the gateway close its connection instead of dispatching.
const CLOSE: &str = "__close_gateway";
/// Marks a gateway event other than INTERACTION_CREATE: `{EVENT: name, "d": data}`.
const EVENT: &str = "__event";

/// The shard of a test's event: Discord's `(guild_id >> 22) % total` for an event of a guild
/// (an interaction's `guild_id`, or a gateway event's `guild_id` or, for GUILD_*, `id`); shard 0
/// for the rest.
fn shard_of(event: &Value, total: u64) -> u64 {
    let d = if event[EVENT].is_string() {
        &event["d"]
    } else {
        event
    };
    let guild = d["guild_id"]
        .as_str()
        .or_else(|| {
            event[EVENT]
                .as_str()
                .filter(|t| t.starts_with("GUILD_"))
                .and(d["id"].as_str())
        })
        .and_then(|g| g.parse::<u64>().ok());
    guild.map_or(0, |g| (g >> 22) % total.max(1))
}

/// The gateway's open sessions by shard, and the events waiting for a shard's session.
#[derive(Default)]
struct Sessions {
    by_shard: HashMap<u64, mpsc::UnboundedSender<Value>>,
    total: u64,
    waiting: Vec<Value>,
}

impl Sessions {
    /// Sends an event to its shard's session, or keeps it until that shard connects.
    fn route(&mut self, event: Value) {
        if event[CLOSE] == true {
            for session in self.by_shard.values() {
                let _ = session.send(event.clone());
            }
            return;
        }
        let shard = shard_of(&event, self.total);
        match self.by_shard.get(&shard) {
            Some(session) if !session.is_closed() => {
                if let Err(e) = session.send(event) {
                    self.waiting.push(e.0);
                }
            }
            _ => self.waiting.push(event),
        }
    }
}

/// Discord's gateway, sharded: each connection is a session of its own (HELLO, IDENTIFY naming
/// its shard `[id, total]`, READY naming that shard and the guilds on it, as unavailable guilds,
/// which is how Discord's READY lists them; heartbeat ACKs; RESUME answered with RESUMED). The
/// test's events go to the session of their guild's shard only (see [`shard_of`]), so each
/// process sees the interactions of its own shards; an event whose shard has no session waits
/// for it. A new session of a shard replaces the old one.
async fn serve_gateway(
    listener: tokio::net::TcpListener,
    ws_addr: String,
    mut events: mpsc::UnboundedReceiver<Value>,
    state: Arc<Mutex<DiscordState>>,
) {
    let sessions = Arc::new(Mutex::new(Sessions::default()));
    let router = {
        let sessions = sessions.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                sessions.lock().unwrap().route(event);
            }
        })
    };
    let _router = AbortOnDrop(router);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        if state.lock().unwrap().gateway_down {
            drop(stream);
            continue;
        }
        tokio::spawn(session(
            stream,
            ws_addr.clone(),
            sessions.clone(),
            state.clone(),
        ));
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    ws_addr: String,
    sessions: Arc<Mutex<Sessions>>,
    state: Arc<Mutex<DiscordState>>,
) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": 200 } });
    if tx.send(WsMessage::Text(hello.to_string())).await.is_err() {
        return;
    }
    let (events_tx, mut events) = mpsc::unbounded_channel::<Value>();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            frame = rx.next() => {
                let Some(Ok(frame)) = frame else { break };
                let Ok(text) = frame.into_text() else { continue };
                let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                match payload["op"].as_u64() {
                    Some(1) => {
                        let _ = tx.send(WsMessage::Text(json!({ "op": 11 }).to_string())).await;
                    }
                    Some(2) => {
                        let shard = payload["d"]["shard"].clone();
                        let id = shard[0].as_u64().unwrap_or(0);
                        let total = shard[1].as_u64().unwrap_or(1).max(1);
                        let guilds: Vec<Value> = {
                            let mut state = state.lock().unwrap();
                            state.identified += 1;
                            state.identified_shards.push(shard.clone());
                            state
                                .guilds
                                .iter()
                                .filter(|g| (**g >> 22) % total == id)
                                .map(|g| json!({ "id": g.to_string(), "unavailable": true }))
                                .collect()
                        };
                        seq += 1;
                        let ready = json!({ "op": 0, "t": "READY", "s": seq, "d": {
                            "v": 10,
                            "user": { "id": BOT_USER.to_string(), "username": "briefbot", "discriminator": "0000", "bot": true },
                            "guilds": guilds,
                            "session_id": format!("fake-session-{id}"),
                            // As Discord does: READY names the shard the IDENTIFY asked for.
                            "shard": shard,
                            "resume_gateway_url": format!("ws://{ws_addr}"),
                            "application": { "id": APP_ID.to_string(), "flags": 0 },
                        }});
                        let _ = tx.send(WsMessage::Text(ready.to_string())).await;
                        // From now on this session receives its shard's events, those that
                        // waited for it first.
                        let mut sessions = sessions.lock().unwrap();
                        sessions.total = total;
                        sessions.by_shard.insert(id, events_tx.clone());
                        let waiting = std::mem::take(&mut sessions.waiting);
                        for event in waiting {
                            sessions.route(event);
                        }
                    }
                    Some(6) => {
                        seq += 1;
                        let resumed = json!({ "op": 0, "t": "RESUMED", "s": seq, "d": {} });
                        let _ = tx.send(WsMessage::Text(resumed.to_string())).await;
                        let shard = payload["d"]["shard"][0].as_u64().unwrap_or(0);
                        sessions.lock().unwrap().by_shard.insert(shard, events_tx.clone());
                    }
                    _ => {}
                }
            }
            event = events.recv() => {
                let Some(d) = event else { return };
                if d[CLOSE] == true {
                    let _ = tx.send(WsMessage::Close(None)).await;
                    break;
                }
                seq += 1;
                let frame = match d[EVENT].as_str() {
                    Some(t) => json!({ "op": 0, "t": t, "s": seq, "d": d["d"] }),
                    None => json!({ "op": 0, "t": "INTERACTION_CREATE", "s": seq, "d": d }),
                };
                if tx.send(WsMessage::Text(frame.to_string())).await.is_err() {
                    // Not delivered: it waits for the shard's next session.
                    sessions.lock().unwrap().waiting.push(d);
                    break;
                }
            }
        }
    }
    // Events routed to this session and not yet sent wait for the shard's next session.
    events.close();
    let mut sessions = sessions.lock().unwrap();
    while let Ok(event) = events.try_recv() {
        if event[CLOSE] != true {
            sessions.waiting.push(event);
        }
    }
}

/// An INTERACTION_CREATE payload for a slash command. `permissions` is the member's (as a
/// decimal string); `guild` None makes it a DM.
pub fn command(
    name: &str,
    options: Value,
    guild: Option<u64>,
    channel: u64,
    user: u64,
    permissions: &str,
) -> Value {
    command_of_type(2, name, options, guild, channel, user, permissions)
}

/// An interaction token shaped as Discord's are: the base64 of `interaction:{id}:…`, so it
/// starts with `aW50ZXJhY3Rpb246` (what the log's scrubbing recognises).
pub fn interaction_token(n: u64) -> String {
    format!("aW50ZXJhY3Rpb246{n:012}OmZha2VUb2tlbl9mb3JfdGVzdHM")
}

/// An autocomplete interaction for `name` with `options` (one of them `focused`).
pub fn autocomplete(name: &str, options: Value, guild: u64, channel: u64) -> Value {
    command_of_type(4, name, options, Some(guild), channel, 1, "32")
}

fn command_of_type(
    kind: u8,
    name: &str,
    options: Value,
    guild: Option<u64>,
    channel: u64,
    user: u64,
    permissions: &str,
) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut d = json!({
        "id": (500_000 + n).to_string(),
        "application_id": APP_ID.to_string(),
        "type": kind,
        "token": interaction_token(n),
        "version": 1,
        "channel_id": channel.to_string(),
        "locale": "ko",
        "entitlements": [],
        "attachment_size_limit": 8_388_608,
        "data": { "id": "900", "name": name, "type": 1, "options": options },
    });
    match guild {
        Some(g) => {
            d["guild_id"] = json!(g.to_string());
            d["member"] = member_value(user, permissions);
        }
        None => d["user"] = user_value(user),
    }
    d
}

/// A button press (a component interaction) on a message of the bot's.
pub fn button_press(custom_id: &str, guild: u64, channel: u64, user: u64) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({
        "id": (900_000 + n).to_string(),
        "application_id": APP_ID.to_string(),
        "type": 3,
        "token": interaction_token(n),
        "version": 1,
        "channel_id": channel.to_string(),
        "guild_id": guild.to_string(),
        "locale": "ko",
        "entitlements": [],
        "attachment_size_limit": 8_388_608,
        "member": member_value(user, "3072"),
        "data": { "custom_id": custom_id, "component_type": 2 },
        "message": message_value(77, channel, &json!({})),
    })
}
