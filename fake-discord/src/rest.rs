//! The REST API under `/api/v10`: every request is recorded, scripted answers go first, then
//! the routes the bridge uses answer with complete objects and Discord's errors, and everything
//! else is a 404 with Discord's JSON error shape.
//!
//! Routing is one match over (method, path segments) in a single fallback handler rather than
//! axum's router, so that known and unknown routes are recorded the same way and the scripted
//! answers apply before any route logic.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::to_bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::ids::{self, snowflake, timestamp};
use crate::model::{self, id_of, is_thread, Actor, InteractionState};
use crate::record::{RecordedFile, RecordedRequest, Reply, Route};
use crate::state::{Shared, State as FakeState};

/// Discord's limit on a message's content, in characters.
const MAX_CONTENT: usize = 2000;
/// The longest string nonce of a message.
const MAX_NONCE: usize = 25;
/// How long a nonce sent with `enforce_nonce` is remembered ("the past few minutes").
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Bodies up to this size are accepted (Discord's upload limit is lower; the fake records).
const MAX_BODY: usize = 64 << 20;
/// Message flag: ephemeral.
const EPHEMERAL: u64 = 1 << 6;
/// Message flag: the deferred "is thinking…" response.
const LOADING: u64 = 1 << 7;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// What the fake answers.
struct Answer {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    /// How the answer ends.
    end: End,
}

/// How an answer ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// Whole.
    Whole,
    /// The connection is cut in the body ([`Reply::CutOff`]).
    CutOff,
    /// Never: nothing is sent, the connection stays open ([`Reply::Silence`]).
    Never,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            end: End::Whole,
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            headers: Vec::new(),
            end: End::Whole,
        }
    }

    fn error(status: u16, code: u32, message: &str) -> Self {
        Self::json(status, json!({ "message": message, "code": code }))
    }

    fn not_found() -> Self {
        Self::error(404, 0, "404: Not Found")
    }

    fn invalid_form(field: &str, code: &str, message: &str) -> Self {
        Self::json(
            400,
            json!({
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": { field: { "_errors": [{ "code": code, "message": message }] } },
            }),
        )
    }

    fn into_response(self) -> Response {
        if self.end == End::CutOff {
            // hyper sends the head, then closes the connection when the body fails.
            let broken = futures_util::stream::once(async {
                Err::<axum::body::Bytes, _>(std::io::Error::other("cut off by the test"))
            });
            return (StatusCode::OK, axum::body::Body::from_stream(broken)).into_response();
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self.body {
            Some(body) => (status, axum::Json(body)).into_response(),
            None => status.into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let at = Instant::now();
    let method = request.method().as_str().to_owned();
    let full_path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_body(request).await;
    let (path, route) = match full_path.strip_prefix("/api/v10") {
        Some(path) => {
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            (path.to_owned(), route_of(&method, &segments))
        }
        None => (full_path.clone(), Route::Unknown),
    };
    let (json_body, files) = match body {
        Ok(body) => body,
        Err(raw) => (Some(Value::String(raw)), Vec::new()),
    };

    // Answered under the lock, released before any await.
    let answer = {
        let mut state = shared.lock();
        let script = limited(&mut state, route).or_else(|| take_script(&mut state, route));
        let mut work = || {
            if matches!(&json_body, Some(Value::String(_))) {
                Answer::error(400, 50109, "The request body contains invalid JSON.")
            } else if needs_auth(route)
                && authorization.as_deref() != Some(&format!("Bot {}", ids::TOKEN))
            {
                Answer::error(401, 0, "401: Unauthorized")
            } else {
                let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                let request = Incoming {
                    method: &method,
                    segments: &segments,
                    query: query.as_deref(),
                    body: json_body.as_ref().unwrap_or(&Value::Null),
                    files: &files,
                };
                answer(&mut state, route, &request)
            }
        };
        let answer = match script {
            Some(Reply::DoneThen(instead)) => {
                work();
                scripted(*instead)
            }
            Some(reply) => scripted(reply),
            None => work(),
        };
        let index = state.requests.len();
        state.requests.push(RecordedRequest {
            index,
            route,
            method,
            path,
            query,
            body: json_body,
            files,
            authorization,
            at,
            status: answer.status,
        });
        answer
    };
    shared.changed();
    if answer.end == End::Never {
        // The client's request stays unanswered until it gives up.
        std::future::pending::<()>().await;
    }
    answer.into_response()
}

/// The JSON body (for multipart: `payload_json`) and files; `Err(raw text)` if the body is not
/// JSON.
async fn read_body(request: Request) -> Result<(Option<Value>, Vec<RecordedFile>), String> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| format!("bad multipart body: {e}"))?;
        let mut payload = None;
        let mut files = Vec::new();
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| format!("bad multipart body: {e}"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let data = field
                .bytes()
                .await
                .map_err(|e| format!("bad multipart body: {e}"))?;
            match filename {
                Some(filename) => files.push(RecordedFile {
                    field: name,
                    filename,
                    content_type,
                    data: data.to_vec(),
                }),
                None if name == "payload_json" => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    payload = Some(serde_json::from_str(&text).map_err(|_| text)?);
                }
                None => {}
            }
        }
        return Ok((payload, files));
    }
    let bytes = to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|e| format!("unreadable body: {e}"))?;
    if bytes.is_empty() {
        return Ok((None, Vec::new()));
    }
    serde_json::from_slice(&bytes)
        .map(|v| (Some(v), Vec::new()))
        .map_err(|_| String::from_utf8_lossy(&bytes).into_owned())
}

fn route_of(method: &str, s: &[&str]) -> Route {
    use Route::*;
    match (method, s) {
        ("GET", ["gateway"] | ["gateway", "bot"]) => Gateway,
        ("GET", ["users", "@me"]) => CurrentUser,
        ("GET", ["applications", "@me"] | ["oauth2", "applications", "@me"]) => CurrentApplication,
        ("GET" | "PUT" | "POST", ["applications", _, "commands"]) => GlobalCommands,
        ("GET" | "PUT" | "POST", ["applications", _, "guilds", _, "commands"]) => GuildCommands,
        ("POST", ["interactions", _, _, "callback"]) => InteractionCallback,
        ("POST", ["webhooks", _, _]) => CreateFollowup,
        ("GET", ["webhooks", _, _, "messages", "@original"]) => GetOriginal,
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => EditOriginal,
        ("DELETE", ["webhooks", _, _, "messages", "@original"]) => DeleteOriginal,
        ("GET" | "PATCH" | "DELETE", ["webhooks", _, _, "messages", _]) => FollowupMessage,
        ("GET", ["channels", _]) => GetChannel,
        ("PATCH", ["channels", _]) => EditChannel,
        ("POST", ["channels", _, "messages"]) => CreateMessage,
        ("GET", ["channels", _, "messages"]) => ListMessages,
        ("GET", ["channels", _, "messages", _]) => GetMessage,
        ("PUT" | "DELETE", ["channels", _, "messages", _, "reactions", _, "@me"]) => Reaction,
        ("PATCH", ["channels", _, "messages", _]) => EditMessage,
        ("DELETE", ["channels", _, "messages", _]) => DeleteMessage,
        ("POST", ["channels", _, "threads"]) => StartThread,
        ("POST", ["channels", _, "messages", _, "threads"]) => StartThreadFromMessage,
        ("PUT" | "DELETE", ["channels", _, "thread-members", _]) => ThreadMember,
        ("POST", ["channels", _, "typing"]) => Typing,
        ("GET", ["guilds", _]) => GetGuild,
        ("GET", ["guilds", _, "channels"]) => GuildChannels,
        ("GET", ["guilds", _, "roles"]) => GuildRoles,
        ("GET", ["guilds", _, "members", _]) => GuildMember,
        _ => Unknown,
    }
}

/// Interaction callbacks and webhooks authenticate by the token in the path.
fn needs_auth(route: Route) -> bool {
    !matches!(
        route,
        Route::InteractionCallback
            | Route::CreateFollowup
            | Route::GetOriginal
            | Route::EditOriginal
            | Route::DeleteOriginal
            | Route::FollowupMessage
            | Route::Unknown
    )
}

/// The 429 of a rate limit in force on `route` (its own, or the global one), with the time
/// left; limits that have passed are dropped.
fn limited(state: &mut FakeState, route: Route) -> Option<Reply> {
    let now = Instant::now();
    state.limits.retain(|(_, until)| *until > now);
    state
        .limits
        .iter()
        .filter(|(limited, _)| match limited {
            Some(r) => *r == route,
            // The global limit spares the interaction routes (authenticated by their token).
            None => needs_auth(route),
        })
        .max_by_key(|(_, until)| *until)
        .map(|(limited, until)| Reply::RateLimited {
            retry_after: *until - now,
            global: limited.is_none(),
        })
}

fn take_script(state: &mut FakeState, route: Route) -> Option<Reply> {
    let position = state
        .scripts
        .iter()
        .position(|s| s.route == route && s.remaining > 0)?;
    let script = &mut state.scripts[position];
    script.remaining -= 1;
    let reply = script.reply.clone();
    if script.remaining == 0 {
        state.scripts.remove(position);
    }
    Some(reply)
}

fn scripted(reply: Reply) -> Answer {
    match reply {
        Reply::RateLimited {
            retry_after,
            global,
        } => {
            let secs = retry_after.as_secs_f64();
            let reset = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default()
                + secs;
            let mut headers = vec![
                (
                    "retry-after",
                    format!("{}", retry_after.as_secs_f64().ceil() as u64),
                ),
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", format!("{reset:.3}")),
                ("x-ratelimit-reset-after", format!("{secs:.3}")),
                (
                    "x-ratelimit-bucket",
                    "fakebucket0123456789abcdef".to_owned(),
                ),
                (
                    "x-ratelimit-scope",
                    if global { "global" } else { "user" }.to_owned(),
                ),
            ];
            if global {
                headers.push(("x-ratelimit-global", "true".to_owned()));
            }
            Answer {
                status: 429,
                body: Some(json!({
                    "message": "You are being rate limited.",
                    "retry_after": secs,
                    "global": global,
                })),
                headers,
                end: End::Whole,
            }
        }
        Reply::BareRateLimit => Answer {
            status: 429,
            body: None,
            headers: Vec::new(),
            end: End::Whole,
        },
        Reply::Error {
            status,
            code,
            message,
        } => Answer::error(status, code, &message),
        // The work is done by the caller; what the client sees is the inner reply.
        Reply::DoneThen(instead) => scripted(*instead),
        Reply::CutOff => Answer {
            status: 200,
            body: None,
            headers: Vec::new(),
            end: End::CutOff,
        },
        Reply::Silence => Answer {
            status: 0,
            body: None,
            headers: Vec::new(),
            end: End::Never,
        },
    }
}

/// A request as the route handlers see it.
struct Incoming<'a> {
    method: &'a str,
    segments: &'a [&'a str],
    query: Option<&'a str>,
    body: &'a Value,
    files: &'a [RecordedFile],
}

impl Incoming<'_> {
    /// The snowflake at path segment `index`.
    fn id(&self, index: usize) -> Option<u64> {
        self.segments.get(index)?.parse().ok()
    }
}

fn answer(state: &mut FakeState, route: Route, request: &Incoming) -> Answer {
    match route {
        Route::Gateway => gateway_info(state, request),
        Route::CurrentUser => Answer::json(200, model::current_user()),
        Route::CurrentApplication => Answer::json(200, application()),
        Route::GlobalCommands => commands(state, request, None),
        Route::GuildCommands => match request.id(3) {
            Some(guild) => commands(state, request, Some(guild)),
            None => Answer::not_found(),
        },
        Route::InteractionCallback => interaction_callback(state, request),
        Route::CreateFollowup => create_followup(state, request),
        Route::GetOriginal | Route::EditOriginal | Route::DeleteOriginal => {
            original(state, route, request)
        }
        Route::FollowupMessage => followup_message(state, request),
        Route::GetChannel => match request.id(1).and_then(|id| state.world.channels.get(&id)) {
            Some(channel) => Answer::json(200, channel.clone()),
            None => unknown_channel(),
        },
        Route::EditChannel => edit_channel(state, request),
        Route::CreateMessage => create_message(state, request),
        Route::GetMessage | Route::EditMessage | Route::DeleteMessage | Route::Reaction => {
            channel_message(state, route, request)
        }
        Route::ListMessages => list_messages(state, request),
        Route::StartThread => start_thread(state, request, None),
        Route::StartThreadFromMessage => match request.id(3) {
            Some(message) => start_thread(state, request, Some(message)),
            None => unknown_message(),
        },
        Route::ThreadMember | Route::Typing => {
            match request
                .id(1)
                .filter(|id| state.world.channels.contains_key(id))
            {
                Some(_) => Answer::no_content(),
                None => unknown_channel(),
            }
        }
        Route::GetGuild | Route::GuildChannels | Route::GuildRoles | Route::GuildMember => {
            guild(state, route, request)
        }
        Route::Unknown => Answer::not_found(),
    }
}

fn unknown_channel() -> Answer {
    Answer::error(404, 10003, "Unknown Channel")
}

fn unknown_message() -> Answer {
    Answer::error(404, 10008, "Unknown Message")
}

/// What Discord answers an edit or a reaction in an archived thread, or a message in one a
/// moderator locked.
fn archived_thread() -> Answer {
    Answer::error(400, 50083, "Thread is archived")
}

/// A message is sent in `channel_id`: an archived thread is unarchived by it (THREAD_UPDATE);
/// false when it cannot be, the thread being locked.
pub(crate) fn unarchive_for_message(state: &mut FakeState, channel_id: u64) -> bool {
    let Some(thread) = state
        .world
        .channels
        .get_mut(&channel_id)
        .filter(|c| model::is_archived(c))
    else {
        return true;
    };
    if thread["thread_metadata"]["locked"] == true {
        return false;
    }
    model::set_archived(thread, false);
    let event = thread.clone();
    state.gateway.dispatch("THREAD_UPDATE", event);
    true
}

fn unknown_webhook() -> Answer {
    Answer::error(404, 10015, "Unknown Webhook")
}

fn gateway_info(state: &FakeState, request: &Incoming) -> Answer {
    let url = state.gateway.url().to_owned();
    if request.segments.len() == 1 {
        return Answer::json(200, json!({ "url": url }));
    }
    Answer::json(
        200,
        json!({
            "url": url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }),
    )
}

/// The application object (`GET /applications/@me`).
fn application() -> Value {
    json!({
        "id": ids::APPLICATION.to_string(),
        "name": ids::BOT_NAME,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "bot": model::user(&model::bot_actor()),
        "bot_public": false,
        "bot_require_code_grant": false,
        "verify_key": "0".repeat(64),
        "flags": 565248,
        "owner": model::user(&Actor::new(ids::OWNER, "owner")),
        "team": null,
        "hook": true,
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "tags": [],
        "integration_types_config": { "0": {} },
        "approximate_guild_count": 2,
        "approximate_user_install_count": 0,
    })
}

/// Register, overwrite and list application commands.
fn commands(state: &mut FakeState, request: &Incoming, guild: Option<u64>) -> Answer {
    if request.id(1) != Some(ids::APPLICATION) {
        return Answer::error(403, 50001, "Missing Access");
    }
    if guild.is_some_and(|g| !state.world.guilds.iter().any(|w| w.id == g)) {
        return Answer::error(403, 50001, "Missing Access");
    }
    let scope = |c: &Value| c["guild_id"].as_str().and_then(|s| s.parse::<u64>().ok()) == guild;
    match request.method {
        "GET" => Answer::json(
            200,
            Value::Array(
                state
                    .world
                    .commands
                    .values()
                    .filter(|c| scope(c))
                    .cloned()
                    .collect(),
            ),
        ),
        "PUT" => {
            let Some(list) = request.body.as_array() else {
                return Answer::invalid_form("_errors", "ARRAY_TYPE_CONVERT", "Must be an array.");
            };
            if let Some(error) = list.iter().find_map(validate_command) {
                return error;
            }
            let mut registered = Vec::new();
            for body in list {
                let existing = state
                    .world
                    .commands
                    .values()
                    .find(|c| scope(c) && c["name"] == body["name"])
                    .map(id_of);
                registered.push(command(body, existing.unwrap_or_else(snowflake), guild));
            }
            state.world.commands.retain(|_, c| !scope(c));
            for command in &registered {
                state.world.commands.insert(id_of(command), command.clone());
            }
            Answer::json(200, Value::Array(registered))
        }
        _ => {
            if let Some(error) = validate_command(request.body) {
                return error;
            }
            let existing = state
                .world
                .commands
                .values()
                .find(|c| scope(c) && c["name"] == request.body["name"])
                .map(id_of);
            let command = command(request.body, existing.unwrap_or_else(snowflake), guild);
            state
                .world
                .commands
                .insert(id_of(&command), command.clone());
            Answer::json(if existing.is_some() { 200 } else { 201 }, command)
        }
    }
}

/// Discord's main checks on a chat-input command: name, description, option order.
fn validate_command(body: &Value) -> Option<Answer> {
    let valid_name = |name: &str| {
        (1..=32).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase()))
    };
    let chat_input = body["type"].as_u64().unwrap_or(1) == 1;
    let name = body["name"].as_str().unwrap_or_default();
    if chat_input && !valid_name(name) {
        return Some(Answer::invalid_form(
            "name",
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        ));
    }
    let description = body["description"].as_str().unwrap_or_default();
    if chat_input && !(1..=100).contains(&description.chars().count()) {
        return Some(Answer::invalid_form(
            "description",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ));
    }
    let options = body["options"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if options.len() > 25 {
        return Some(Answer::invalid_form(
            "options",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    let mut optional_seen = false;
    for option in options {
        let option_name = option["name"].as_str().unwrap_or_default();
        let option_description = option["description"].as_str().unwrap_or_default();
        if !valid_name(option_name) || !(1..=100).contains(&option_description.chars().count()) {
            return Some(Answer::invalid_form(
                "options",
                "APPLICATION_COMMAND_INVALID_NAME",
                "Option name or description is invalid",
            ));
        }
        let required = option["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            return Some(Answer::invalid_form(
                "options",
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            ));
        }
        optional_seen |= !required;
        if matches!(option["type"].as_u64(), Some(1 | 2)) {
            if let Some(error) = validate_command(&json!({
                "type": 1,
                "name": option_name,
                "description": option_description,
                "options": option["options"],
            })) {
                return Some(error);
            }
        }
    }
    None
}

/// A registered command object.
fn command(body: &Value, id: u64, guild: Option<u64>) -> Value {
    let mut command = json!({
        "id": id.to_string(),
        "application_id": ids::APPLICATION.to_string(),
        "version": snowflake().to_string(),
        "type": 1,
        "name": "",
        "description": "",
        "default_member_permissions": null,
        "dm_permission": true,
        "nsfw": false,
        "integration_types": [0],
        "contexts": null,
        "options": [],
    });
    for key in [
        "type",
        "name",
        "name_localizations",
        "description",
        "description_localizations",
        "options",
        "default_member_permissions",
        "dm_permission",
        "nsfw",
        "integration_types",
        "contexts",
    ] {
        if let Some(value) = body.get(key).filter(|v| !v.is_null()) {
            command[key] = value.clone();
        }
    }
    if let Some(guild) = guild {
        command["guild_id"] = json!(guild.to_string());
    }
    command
}

/// `POST /interactions/{id}/{token}/callback`.
fn interaction_callback(state: &mut FakeState, request: &Incoming) -> Answer {
    let id = request.id(1).unwrap_or_default();
    let token = request.segments.get(2).copied().unwrap_or_default();
    let Some(interaction) = state
        .world
        .interactions
        .get(&id)
        .filter(|i| i.token == token)
    else {
        return Answer::error(404, 10062, "Unknown interaction");
    };
    if interaction.answered.is_some() {
        return Answer::error(400, 40060, "Interaction has already been acknowledged.");
    }
    let kind = request.body["type"].as_u64().unwrap_or(0);
    // Components, and modals submitted from a component's message, may update that message;
    // a modal cannot answer a modal submit; autocompletes take only choices.
    let on_message = interaction.component_message.is_some();
    let (autocomplete, modal_submit) = (interaction.kind == 4, interaction.kind == 5);
    let valid = match kind {
        4 | 5 => !autocomplete,
        9 => !autocomplete && !modal_submit,
        6 | 7 => on_message,
        8 => autocomplete,
        _ => false,
    };
    if !valid {
        return Answer::invalid_form(
            "type",
            "BASE_TYPE_CHOICES",
            "Value must be one of {4, 5, 6, 7, 8, 9}.",
        );
    }
    let data = &request.body["data"];
    if matches!(kind, 4 | 7) {
        if let Err(error) = validate_message(data, request.files, kind == 4) {
            return error;
        }
    }
    if kind == 9 {
        if let Err(error) = validate_modal(data) {
            return error;
        }
    }
    let channel_id = interaction.channel_id;
    let interaction_ref = interaction_reference(id, interaction);
    match kind {
        4 | 5 => {
            let mut body = data.clone();
            let ephemeral = data["flags"].as_u64().unwrap_or(0) & EPHEMERAL;
            if kind == 5 {
                body = json!({ "content": "", "flags": LOADING | ephemeral });
            }
            let message = post_message(
                state,
                channel_id,
                &body,
                request.files,
                Some(interaction_ref),
            );
            if let Some(interaction) = state.world.interactions.get_mut(&id) {
                interaction.original = Some(id_of(&message));
                interaction.loading = kind == 5;
            }
        }
        7 => {
            if let Some(message_id) = state
                .world
                .interactions
                .get(&id)
                .and_then(|i| i.component_message)
            {
                edit_message(state, message_id, data, request.files);
            }
        }
        9 => {
            if let Some(interaction) = state.world.interactions.get_mut(&id) {
                interaction.modal = Some(data.clone());
            }
        }
        _ => {}
    }
    if let Some(interaction) = state.world.interactions.get_mut(&id) {
        interaction.answered = Some(kind);
    }
    Answer::no_content()
}

/// The `interaction` field of a message answering an interaction.
fn interaction_reference(id: u64, interaction: &InteractionState) -> Value {
    json!({
        "id": id.to_string(),
        "type": interaction.kind,
        "name": interaction.name,
        "user": interaction.member["user"],
    })
}

/// The open interaction a webhook path `/webhooks/{app}/{token}` names.
fn interaction_by_token(state: &FakeState, request: &Incoming) -> Option<u64> {
    if request.id(1) != Some(ids::APPLICATION) {
        return None;
    }
    let token = request.segments.get(2)?;
    state
        .world
        .interactions
        .iter()
        .find(|(_, i)| i.token == *token && i.answered.is_some())
        .map(|(id, _)| *id)
}

/// `POST /webhooks/{app}/{token}`: a followup. The first followup after a deferred response
/// becomes the original response, as on Discord.
fn create_followup(state: &mut FakeState, request: &Incoming) -> Answer {
    let Some(id) = interaction_by_token(state, request) else {
        return unknown_webhook();
    };
    if let Err(error) = validate_message(request.body, request.files, true) {
        return error;
    }
    let Some(interaction) = state.world.interactions.get(&id) else {
        return unknown_webhook();
    };
    if let Some(original) = interaction.original.filter(|_| interaction.loading) {
        if let Some(interaction) = state.world.interactions.get_mut(&id) {
            interaction.loading = false;
        }
        return match edit_message(state, original, request.body, request.files) {
            Some(message) => Answer::json(200, message),
            None => unknown_message(),
        };
    }
    let channel_id = interaction.channel_id;
    let reference = interaction_reference(id, interaction);
    let message = post_message(
        state,
        channel_id,
        request.body,
        request.files,
        Some(reference),
    );
    Answer::json(200, message)
}

/// `GET|PATCH|DELETE /webhooks/{app}/{token}/messages/@original`.
fn original(state: &mut FakeState, route: Route, request: &Incoming) -> Answer {
    let Some(id) = interaction_by_token(state, request) else {
        return unknown_webhook();
    };
    let original = state
        .world
        .interactions
        .get(&id)
        .and_then(|i| i.original.or(i.component_message));
    let Some(message_id) = original.filter(|m| state.world.messages.contains_key(m)) else {
        return unknown_message();
    };
    let answer = message_action(state, request, message_id);
    if route == Route::EditOriginal && answer.status == 200 {
        if let Some(interaction) = state.world.interactions.get_mut(&id) {
            interaction.loading = false;
        }
    }
    answer
}

/// Discord's checks on a modal: a custom id and a title, 1 to 5 rows of one text input each.
fn validate_modal(data: &Value) -> Result<(), Answer> {
    let custom_id = data["custom_id"].as_str().unwrap_or_default();
    if !(1..=100).contains(&custom_id.chars().count()) {
        return Err(Answer::invalid_form(
            "custom_id",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ));
    }
    let title = data["title"].as_str().unwrap_or_default();
    if !(1..=45).contains(&title.chars().count()) {
        return Err(Answer::invalid_form(
            "title",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 45 in length.",
        ));
    }
    let rows = data["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let valid_rows = (1..=5).contains(&rows.len())
        && rows.iter().all(|row| {
            row["components"].as_array().is_some_and(|inputs| {
                inputs.len() == 1
                    && inputs[0]["type"] == json!(4)
                    && inputs[0]["custom_id"]
                        .as_str()
                        .is_some_and(|id| !id.is_empty())
                    && inputs[0]["label"].as_str().is_some_and(|l| !l.is_empty())
            })
        });
    if !valid_rows {
        return Err(Answer::invalid_form(
            "components",
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "A modal has 1 to 5 rows of exactly one text input with a custom_id and a label.",
        ));
    }
    Ok(())
}

/// `GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{id}`.
fn followup_message(state: &mut FakeState, request: &Incoming) -> Answer {
    let Some(id) = interaction_by_token(state, request) else {
        return unknown_webhook();
    };
    let channel_id = state.world.interactions.get(&id).map(|i| i.channel_id);
    let Some(message_id) = request.id(4).filter(|m| {
        state
            .world
            .messages
            .get(m)
            .is_some_and(|msg| Some(id_of_field(msg, "channel_id")) == channel_id)
    }) else {
        return unknown_message();
    };
    message_action(state, request, message_id)
}

/// GET, PATCH (edit) or DELETE a stored message, as the request's method says.
fn message_action(state: &mut FakeState, request: &Incoming, message_id: u64) -> Answer {
    match request.method {
        "GET" => match state.world.messages.get(&message_id) {
            Some(message) => Answer::json(200, message.clone()),
            None => unknown_message(),
        },
        "PATCH" => {
            if let Err(error) = validate_message(request.body, request.files, false) {
                return error;
            }
            match edit_message(state, message_id, request.body, request.files) {
                Some(message) => Answer::json(200, message),
                None => unknown_message(),
            }
        }
        _ => {
            delete_message(state, message_id);
            Answer::no_content()
        }
    }
}

fn id_of_field(value: &Value, field: &str) -> u64 {
    value[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// `POST /channels/{id}/messages`.
fn create_message(state: &mut FakeState, request: &Incoming) -> Answer {
    let Some(channel_id) = request
        .id(1)
        .filter(|c| state.world.channels.contains_key(c))
    else {
        return unknown_channel();
    };
    if state.world.channels[&channel_id]["type"].as_u64() == Some(model::GUILD_CATEGORY) {
        return Answer::error(400, 50008, "Cannot send messages in a non-text channel");
    }
    if let Err(error) = validate_message(request.body, request.files, true) {
        return error;
    }
    if !unarchive_for_message(state, channel_id) {
        return archived_thread();
    }
    let nonce = match nonce_of(request.body) {
        Ok(nonce) => nonce,
        Err(error) => return error,
    };
    // With `enforce_nonce`, a nonce the bot used in the past few minutes gives back the
    // message it created then, and nothing new is posted.
    let enforced = nonce.filter(|_| request.body["enforce_nonce"] == json!(true));
    if let Some(key) = &enforced {
        let earlier = state
            .world
            .nonces
            .get(&(ids::BOT_USER, key.clone()))
            .filter(|(_, at)| at.elapsed() < NONCE_WINDOW)
            .and_then(|(id, _)| state.world.messages.get(id));
        if let Some(message) = earlier {
            return Answer::json(200, message.clone());
        }
    }
    let message = post_message(state, channel_id, request.body, request.files, None);
    if let Some(key) = enforced {
        state
            .world
            .nonces
            .insert((ids::BOT_USER, key), (id_of(&message), Instant::now()));
    }
    Answer::json(200, message)
}

/// A create body's `nonce` as text (an integer or a string of at most 25 characters), if any.
fn nonce_of(body: &Value) -> Result<Option<String>, Answer> {
    match &body["nonce"] {
        Value::Null => Ok(None),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Value::String(s) if s.chars().count() <= MAX_NONCE => Ok(Some(s.clone())),
        Value::String(_) => Err(Answer::invalid_form(
            "nonce",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        )),
        _ => Err(Answer::invalid_form(
            "nonce",
            "BASE_TYPE_REQUIRED",
            "Must be a string or an integer.",
        )),
    }
}

/// `GET|PATCH|DELETE /channels/{id}/messages/{id}` and reactions on that message.
fn channel_message(state: &mut FakeState, route: Route, request: &Incoming) -> Answer {
    let Some(channel_id) = request
        .id(1)
        .filter(|c| state.world.channels.contains_key(c))
    else {
        return unknown_channel();
    };
    let Some(message_id) = request.id(3).filter(|m| {
        state
            .world
            .messages
            .get(m)
            .is_some_and(|msg| id_of_field(msg, "channel_id") == channel_id)
    }) else {
        return unknown_message();
    };
    let archived = model::is_archived(&state.world.channels[&channel_id]);
    if archived && matches!(route, Route::Reaction | Route::EditMessage) {
        return archived_thread();
    }
    if route == Route::Reaction {
        return Answer::no_content();
    }
    let author = id_of_field(&state.world.messages[&message_id]["author"], "id");
    if route == Route::EditMessage && author != ids::BOT_USER {
        return Answer::error(403, 50005, "Cannot edit a message authored by another user");
    }
    message_action(state, request, message_id)
}

/// `GET /channels/{id}/messages?limit=N[&after=ID]`: the newest `N` (default 50, at most
/// 100), or the first `N` after the message `ID`, newest first.
fn list_messages(state: &FakeState, request: &Incoming) -> Answer {
    let Some(channel_id) = request
        .id(1)
        .filter(|c| state.world.channels.contains_key(c))
    else {
        return unknown_channel();
    };
    let limit = request
        .query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("limit="))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let after = request
        .query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("after="))
        .and_then(|n| n.parse::<u64>().ok());
    let in_channel = |m: &&Value| id_of_field(m, "channel_id") == channel_id;
    let messages: Vec<Value> = match after {
        // The `limit` first after it, newest first as Discord gives them.
        Some(after) => {
            let mut first: Vec<Value> = state
                .world
                .messages
                .range(after + 1..)
                .map(|(_, m)| m)
                .filter(in_channel)
                .take(limit)
                .cloned()
                .collect();
            first.reverse();
            first
        }
        None => state
            .world
            .messages
            .values()
            .rev()
            .filter(in_channel)
            .take(limit)
            .cloned()
            .collect(),
    };
    Answer::json(200, Value::Array(messages))
}

/// Discord's checks on a message body: not empty (when creating), content within 2000
/// characters, at most 10 embeds, at most 5 rows of at most 5 components.
fn validate_message(body: &Value, files: &[RecordedFile], creating: bool) -> Result<(), Answer> {
    let content = body["content"].as_str().unwrap_or_default();
    if content.chars().count() > MAX_CONTENT {
        return Err(Answer::invalid_form(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    let embeds = body["embeds"].as_array().map_or(0, Vec::len);
    if embeds > 10 {
        return Err(Answer::invalid_form(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        ));
    }
    let rows = body["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let too_many = rows.len() > 5
        || rows
            .iter()
            .any(|r| r["components"].as_array().is_some_and(|c| c.len() > 5));
    if too_many {
        return Err(Answer::invalid_form(
            "components",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        ));
    }
    let bad_button = rows
        .iter()
        .filter_map(|r| r["components"].as_array())
        .flatten()
        .any(|c| {
            c["label"].as_str().is_some_and(|l| l.chars().count() > 80)
                || c["custom_id"]
                    .as_str()
                    .is_some_and(|id| id.is_empty() || id.chars().count() > 100)
        });
    if bad_button {
        return Err(Answer::invalid_form(
            "components",
            "BASE_TYPE_BAD_LENGTH",
            "A button label must be at most 80 and a custom_id 1 to 100 characters long.",
        ));
    }
    if creating && content.is_empty() && embeds == 0 && files.is_empty() {
        return Err(Answer::error(400, 50006, "Cannot send an empty message"));
    }
    Ok(())
}

/// Create a message by the bot in a channel, remember it and tell the gateway (unless it is
/// ephemeral).
pub(crate) fn post_message(
    state: &mut FakeState,
    channel_id: u64,
    body: &Value,
    files: &[RecordedFile],
    interaction: Option<Value>,
) -> Value {
    let id = snowflake();
    let mut message = model::message(id, channel_id, &model::bot_actor(), body);
    set_attachments(&mut message, body, files);
    if let Some(reference) = interaction {
        message["type"] = json!(20);
        message["interaction"] = reference;
        message["webhook_id"] = json!(ids::APPLICATION.to_string());
        message["application_id"] = json!(ids::APPLICATION.to_string());
    }
    state.world.messages.insert(id, message.clone());
    if message["flags"].as_u64().unwrap_or(0) & EPHEMERAL == 0 {
        let event = state.world.gateway_message(&message);
        state.gateway.dispatch("MESSAGE_CREATE", event);
    }
    message
}

/// Apply an edit body to a stored message and tell the gateway; the edited message.
fn edit_message(
    state: &mut FakeState,
    message_id: u64,
    body: &Value,
    files: &[RecordedFile],
) -> Option<Value> {
    let message = state.world.messages.get_mut(&message_id)?;
    let flags = message["flags"].as_u64().unwrap_or(0);
    model::apply_message_body(message, body);
    // The ephemeral flag cannot change; the loading flag goes once there is content.
    message["flags"] = json!((flags & EPHEMERAL) | (flags & !(LOADING | EPHEMERAL)));
    message["edited_timestamp"] = json!(timestamp());
    if !files.is_empty() || body.get("attachments").is_some() {
        set_attachments(message, body, files);
    }
    let message = message.clone();
    if flags & EPHEMERAL == 0 {
        let event = state.world.gateway_message(&message);
        state.gateway.dispatch("MESSAGE_UPDATE", event);
    }
    Some(message)
}

fn delete_message(state: &mut FakeState, message_id: u64) {
    if let Some(message) = state.world.messages.remove(&message_id) {
        let mut event = json!({ "id": message["id"], "channel_id": message["channel_id"] });
        if let Some(guild) = state.world.guild_of(id_of_field(&message, "channel_id")) {
            event["guild_id"] = json!(guild.to_string());
        }
        state.gateway.dispatch("MESSAGE_DELETE", event);
    }
}

/// The message's attachments: the uploaded files (the kept ones of an edit are not tracked).
fn set_attachments(message: &mut Value, _body: &Value, files: &[RecordedFile]) {
    message["attachments"] = Value::Array(
        files
            .iter()
            .map(|f| model::attachment(&f.filename, f.data.len(), f.content_type.as_deref()))
            .collect(),
    );
}

/// `POST /channels/{id}/threads` and `POST /channels/{id}/messages/{id}/threads`.
fn start_thread(state: &mut FakeState, request: &Incoming, from: Option<u64>) -> Answer {
    let Some(parent_id) = request
        .id(1)
        .filter(|c| state.world.channels.contains_key(c))
    else {
        return unknown_channel();
    };
    let parent = state.world.channels[&parent_id].clone();
    if parent["type"].as_u64() != Some(model::GUILD_TEXT) {
        return Answer::error(400, 50024, "Cannot execute action on this channel type");
    }
    let name = request.body["name"].as_str().unwrap_or_default();
    if !(1..=100).contains(&name.chars().count()) {
        return Answer::invalid_form(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    let archive = request.body["auto_archive_duration"]
        .as_u64()
        .unwrap_or(1440);
    let (id, kind) = match from {
        Some(message_id) => {
            let Some(message) = state
                .world
                .messages
                .get(&message_id)
                .filter(|m| id_of_field(m, "channel_id") == parent_id)
            else {
                return unknown_message();
            };
            if state.world.channels.contains_key(&id_of(message)) {
                return Answer::error(
                    400,
                    160004,
                    "A thread has already been created for this message",
                );
            }
            (message_id, model::PUBLIC_THREAD)
        }
        None => (
            snowflake(),
            request.body["type"]
                .as_u64()
                .unwrap_or(model::PRIVATE_THREAD),
        ),
    };
    if !matches!(kind, model::PUBLIC_THREAD | model::PRIVATE_THREAD) {
        return Answer::invalid_form(
            "type",
            "BASE_TYPE_CHOICES",
            "Value must be one of {11, 12}.",
        );
    }
    let thread = model::thread(id, &parent, kind, name, archive);
    state.world.channels.insert(id, thread.clone());
    if let Some(message) = from.and_then(|m| state.world.messages.get_mut(&m)) {
        let flags = message["flags"].as_u64().unwrap_or(0);
        message["flags"] = json!(flags | 32);
    }
    let mut event = thread.clone();
    event["newly_created"] = json!(true);
    state.gateway.dispatch("THREAD_CREATE", event);
    Answer::json(201, thread)
}

/// `PATCH /channels/{id}`: rename, archive or lock a thread, rename a channel.
fn edit_channel(state: &mut FakeState, request: &Incoming) -> Answer {
    let Some(channel) = request.id(1).and_then(|c| state.world.channels.get_mut(&c)) else {
        return unknown_channel();
    };
    if let Some(name) = request.body["name"].as_str() {
        channel["name"] = json!(name);
    }
    if is_thread(channel) {
        for key in ["archived", "locked", "auto_archive_duration", "invitable"] {
            if let Some(value) = request.body.get(key).filter(|v| !v.is_null()) {
                channel["thread_metadata"][key] = value.clone();
            }
        }
    }
    let channel = channel.clone();
    let event = if is_thread(&channel) {
        "THREAD_UPDATE"
    } else {
        "CHANNEL_UPDATE"
    };
    state.gateway.dispatch(event, channel.clone());
    Answer::json(200, channel)
}

/// `GET /guilds/{id}[/channels|/roles|/members/{user}]`.
fn guild(state: &mut FakeState, route: Route, request: &Incoming) -> Answer {
    let Some(guild) = request
        .id(1)
        .and_then(|g| state.world.guilds.iter().find(|w| w.id == g))
    else {
        return Answer::error(404, 10004, "Unknown Guild");
    };
    match route {
        Route::GetGuild => {
            let mut partial = state.world.guild_create(guild);
            if let Some(object) = partial.as_object_mut() {
                for key in [
                    "joined_at",
                    "large",
                    "unavailable",
                    "member_count",
                    "voice_states",
                    "members",
                    "channels",
                    "threads",
                    "presences",
                    "stage_instances",
                    "guild_scheduled_events",
                    "lazy",
                ] {
                    object.remove(key);
                }
            }
            if request
                .query
                .is_some_and(|q| q.contains("with_counts=true"))
            {
                partial["approximate_member_count"] = json!(2);
                partial["approximate_presence_count"] = json!(1);
            }
            Answer::json(200, partial)
        }
        Route::GuildChannels => {
            let id = json!(guild.id.to_string());
            let channels: Vec<Value> = state
                .world
                .channels
                .values()
                .filter(|c| c["guild_id"] == id && !is_thread(c))
                .cloned()
                .collect();
            Answer::json(200, Value::Array(channels))
        }
        Route::GuildRoles => Answer::json(200, Value::Array(guild.roles.clone())),
        _ => {
            let user = request.id(3).unwrap_or_default();
            match state.world.member(guild.id, user) {
                Some(member) => Answer::json(200, member),
                None => Answer::error(404, 10007, "Unknown Member"),
            }
        }
    }
}
