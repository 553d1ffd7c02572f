//! The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay
//! of missed dispatches, server-side closes, and dispatching events to the bot.
//!
//! One session at a time (the bot runs one shard). Dispatches sent while no connection is
//! established go to the session's log and are replayed on RESUME, as Discord does; dispatches
//! sent before the first IDENTIFY are held and delivered right after the first GUILD_CREATEs.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::ids;
use crate::model;
use crate::state::{Shared, State};

/// The heartbeat interval the fake announces in HELLO (Discord's usual value).
const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

/// Gateway intents the fake honours (Discord's bit values).
const INTENT_GUILDS: u64 = 1 << 0;
const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;

/// Counters and facts about the gateway side, for tests to assert on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// Websocket connections accepted.
    pub connections: u32,
    /// IDENTIFYs accepted (each starts a new session).
    pub identifies: u32,
    /// RESUMEs accepted.
    pub resumes: u32,
    /// Heartbeats received.
    pub heartbeats: u32,
    /// A connection is open and identified or resumed (dispatches reach the bot now).
    pub established: bool,
    /// The intents of the last IDENTIFY.
    pub intents: Option<u64>,
    /// The `d` of the last IDENTIFY (token included; it is the fake's test token).
    pub last_identify: Option<Value>,
}

/// What the connection's writer does next.
enum Outgoing {
    Json(Value),
    /// Send a close frame with this code and end the connection.
    Close(u16),
}

struct Session {
    id: String,
    seq: u64,
    intents: u64,
    /// Every dispatch of the session, for replay on RESUME.
    log: Vec<Value>,
}

struct Active {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    established: bool,
}

pub(crate) struct GatewayState {
    url: String,
    session: Option<Session>,
    active: Option<Active>,
    next_connection: u64,
    /// Dispatches asked for before the first IDENTIFY.
    pending: Vec<(String, Value)>,
    /// The session was invalidated (op 9) and no new one identified yet:
    /// what happens meanwhile is lost to the bot, as on Discord.
    invalidated: bool,
    /// Every dispatch payload sent or queued, across sessions, in order.
    pub dispatched: Vec<Value>,
    pub stats: GatewayStats,
}

impl GatewayState {
    pub fn new(url: String) -> Self {
        Self {
            url,
            session: None,
            active: None,
            next_connection: 0,
            pending: Vec::new(),
            invalidated: false,
            dispatched: Vec::new(),
            stats: GatewayStats::default(),
        }
    }

    /// The websocket URL the fake's gateway listens on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Send a dispatch event (op 0) to the bot, subject to its intents.
    pub fn dispatch(&mut self, kind: &str, data: Value) {
        let Some(session) = &mut self.session else {
            if !self.invalidated {
                self.pending.push((kind.to_owned(), data));
            }
            return;
        };
        let Some(data) = filter_by_intents(kind, data, session.intents) else {
            return;
        };
        session.seq += 1;
        let payload = json!({ "op": 0, "s": session.seq, "t": kind, "d": data });
        session.log.push(payload.clone());
        self.dispatched.push(payload.clone());
        if let Some(active) = self.active.as_ref().filter(|a| a.established) {
            let _ = active.tx.send(Outgoing::Json(payload));
        }
    }

    /// Close the current connection with `code`; false if none is open.
    pub fn close(&mut self, code: u16) -> bool {
        self.end_active(Outgoing::Close(code))
    }

    /// Send op 7 (reconnect) on the current connection and forget it; false if none is open.
    pub fn request_reconnect(&mut self) -> bool {
        self.end_active(Outgoing::Json(
            json!({ "op": 7, "d": null, "s": null, "t": null }),
        ))
    }

    /// Send op 9 (invalid session, not resumable) and forget the session: the bot must
    /// IDENTIFY again. False if no connection was open.
    pub fn invalidate_session(&mut self) -> bool {
        let Some(active) = self.active.as_mut() else {
            return false;
        };
        active.established = false;
        let _ = active.tx.send(Outgoing::Json(
            json!({ "op": 9, "d": false, "s": null, "t": null }),
        ));
        self.session = None;
        self.invalidated = true;
        self.stats.established = false;
        true
    }

    fn end_active(&mut self, last: Outgoing) -> bool {
        match self.active.take() {
            Some(active) => {
                self.stats.established = false;
                let _ = active.tx.send(last);
                true
            }
            None => false,
        }
    }

    fn send(&self, connection: u64, payload: Value) {
        if let Some(active) = self.active.as_ref().filter(|a| a.id == connection) {
            let _ = active.tx.send(Outgoing::Json(payload));
        }
    }
}

/// Discord leaves out events and message content the bot did not ask for.
fn filter_by_intents(kind: &str, mut data: Value, intents: u64) -> Option<Value> {
    let needs = match kind {
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" => INTENT_GUILD_MESSAGES,
        "THREAD_CREATE" | "THREAD_UPDATE" | "THREAD_DELETE" | "CHANNEL_CREATE" => INTENT_GUILDS,
        _ => 0,
    };
    if intents & needs != needs {
        return None;
    }
    if kind.starts_with("MESSAGE_") && intents & INTENT_MESSAGE_CONTENT == 0 {
        let from_bot = data["author"]["id"] == json!(ids::BOT_USER.to_string());
        let mentions_bot = data["mentions"].as_array().is_some_and(|m| {
            m.iter()
                .any(|u| u["id"] == json!(ids::BOT_USER.to_string()))
        });
        if !from_bot && !mentions_bot {
            for (key, empty) in [
                ("content", json!("")),
                ("embeds", json!([])),
                ("attachments", json!([])),
                ("components", json!([])),
            ] {
                if data.get(key).is_some() {
                    data[key] = empty;
                }
            }
        }
    }
    Some(data)
}

/// Accept gateway connections until the listener fails.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((tcp, _)) = listener.accept().await {
        tokio::spawn(connection(tcp, Arc::clone(&shared)));
    }
}

async fn connection(tcp: TcpStream, shared: Arc<Shared>) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ = tx.send(Outgoing::Json(json!({
        "op": 10,
        "d": { "heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake-discord"] },
        "s": null,
        "t": null,
    })));
    let id = {
        let mut state = shared.lock();
        let gateway = &mut state.gateway;
        gateway.next_connection += 1;
        let id = gateway.next_connection;
        // A new connection replaces the old one, which is dropped without a close frame.
        if let Some(old) = gateway.active.take() {
            let _ = old.tx.send(Outgoing::Close(1000));
        }
        gateway.active = Some(Active {
            id,
            tx,
            established: false,
        });
        gateway.stats.connections += 1;
        gateway.stats.established = false;
        id
    };
    shared.changed();

    let mut writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outgoing::Json(value) => {
                    if sink.send(Message::Text(value.to_string())).await.is_err() {
                        return;
                    }
                }
                Outgoing::Close(code) => {
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: "closed by the fake".into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
            }
        }
    });

    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let mut state = shared.lock();
                    receive(&mut state, id, &text);
                    drop(state);
                    shared.changed();
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = &mut writer => break,
        }
    }
    writer.abort();
    {
        let mut state = shared.lock();
        if state.gateway.active.as_ref().is_some_and(|a| a.id == id) {
            state.gateway.active = None;
            state.gateway.stats.established = false;
        }
    }
    shared.changed();
}

/// Handle one payload from the bot on connection `id`.
fn receive(state: &mut State, id: u64, text: &str) {
    if state.gateway.active.as_ref().is_none_or(|a| a.id != id) {
        return;
    }
    let Ok(payload) = serde_json::from_str::<Value>(text) else {
        state.gateway.close(4002);
        return;
    };
    let established = state.gateway.active.as_ref().is_some_and(|a| a.established);
    let data = &payload["d"];
    match payload["op"].as_u64() {
        Some(1) => {
            state.gateway.stats.heartbeats += 1;
            state
                .gateway
                .send(id, json!({ "op": 11, "d": null, "s": null, "t": null }));
        }
        Some(2) if established => {
            state.gateway.close(4005);
        }
        Some(2) => identify(state, id, data),
        Some(6) => resume(state, id, data),
        Some(3 | 4 | 8) if established => {}
        Some(_) if !established => {
            state.gateway.close(4003);
        }
        _ => {
            state.gateway.close(4001);
        }
    }
}

fn identify(state: &mut State, id: u64, data: &Value) {
    if data["token"].as_str().map(|t| t.trim_start_matches("Bot ")) != Some(ids::TOKEN) {
        state.gateway.close(4004);
        return;
    }
    let intents = data["intents"].as_u64().unwrap_or(0);
    let gateway = &mut state.gateway;
    gateway.stats.identifies += 1;
    gateway.stats.intents = Some(intents);
    gateway.stats.last_identify = Some(data.clone());
    gateway.stats.established = true;
    gateway.invalidated = false;
    let session_id = ids::token("session-");
    gateway.session = Some(Session {
        id: session_id.clone(),
        seq: 0,
        intents,
        log: Vec::new(),
    });
    if let Some(active) = gateway.active.as_mut().filter(|a| a.id == id) {
        active.established = true;
    }
    let guilds: Vec<Value> = state
        .world
        .guilds
        .iter()
        .map(|g| json!({ "id": g.id.to_string(), "unavailable": true }))
        .collect();
    let ready = json!({
        "v": 10,
        "user": model::current_user(),
        "guilds": guilds,
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": gateway.url,
        "shard": data.get("shard").cloned().unwrap_or(json!([0, 1])),
        "application": { "id": ids::APPLICATION.to_string(), "flags": 565248 },
        "user_settings": {},
        "relationships": [],
        "private_channels": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["fake"],
        "auth": {},
        "current_location": ["global"],
        "_trace": ["fake-discord"],
    });
    gateway.dispatch("READY", ready);
    if intents & INTENT_GUILDS != 0 {
        let creates: Vec<Value> = state
            .world
            .guilds
            .iter()
            .map(|g| state.world.guild_create(g))
            .collect();
        for create in creates {
            state.gateway.dispatch("GUILD_CREATE", create);
        }
    }
    for (kind, data) in std::mem::take(&mut state.gateway.pending) {
        state.gateway.dispatch(&kind, data);
    }
}

fn resume(state: &mut State, id: u64, data: &Value) {
    let gateway = &mut state.gateway;
    let token_ok = data["token"].as_str().map(|t| t.trim_start_matches("Bot ")) == Some(ids::TOKEN);
    let seq = data["seq"].as_u64().unwrap_or(0);
    let Some(session) = gateway
        .session
        .as_ref()
        .filter(|s| token_ok && data["session_id"].as_str() == Some(s.id.as_str()))
    else {
        gateway.send(id, json!({ "op": 9, "d": false, "s": null, "t": null }));
        return;
    };
    let missed: Vec<Value> = session
        .log
        .iter()
        .filter(|p| p["s"].as_u64().is_some_and(|s| s > seq))
        .cloned()
        .collect();
    for payload in missed {
        gateway.send(id, payload);
    }
    gateway.stats.resumes += 1;
    gateway.stats.established = true;
    if let Some(active) = gateway.active.as_mut().filter(|a| a.id == id) {
        active.established = true;
    }
    gateway.dispatch("RESUMED", json!({ "_trace": ["fake-discord"] }));
}
