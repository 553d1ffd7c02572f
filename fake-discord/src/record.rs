//! What the fake records of every REST request, and the scripted answers tests can queue.

use std::time::{Duration, Instant};

use serde_json::Value;

/// The REST routes the fake knows (everything else is [`Route::Unknown`] and answered 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `GET /gateway` or `GET /gateway/bot`.
    Gateway,
    /// `GET /users/@me`.
    CurrentUser,
    /// `GET /applications/@me` or `GET /oauth2/applications/@me`.
    CurrentApplication,
    /// `GET|PUT|POST /applications/{app}/commands` (global commands; PUT overwrites all).
    GlobalCommands,
    /// `GET|PUT|POST /applications/{app}/guilds/{guild}/commands` (PUT overwrites all).
    GuildCommands,
    /// `POST /interactions/{id}/{token}/callback`.
    InteractionCallback,
    /// `POST /webhooks/{app}/{token}`: an interaction followup.
    CreateFollowup,
    /// `GET /webhooks/{app}/{token}/messages/@original`.
    GetOriginal,
    /// `PATCH /webhooks/{app}/{token}/messages/@original`.
    EditOriginal,
    /// `DELETE /webhooks/{app}/{token}/messages/@original`.
    DeleteOriginal,
    /// `GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{id}`: a followup message.
    FollowupMessage,
    /// `GET /channels/{id}`.
    GetChannel,
    /// `POST /channels/{id}/messages` (JSON or multipart with files).
    CreateMessage,
    /// `GET /channels/{id}/messages` (newest first, `limit` honoured).
    ListMessages,
    /// `GET /channels/{id}/messages/{id}`.
    GetMessage,
    /// `PATCH /channels/{id}/messages/{id}` (JSON or multipart with files).
    EditMessage,
    /// `DELETE /channels/{id}/messages/{id}`.
    DeleteMessage,
    /// `PUT|DELETE /channels/{id}/messages/{id}/reactions/{emoji}/@me` (the emoji is
    /// [`segment`](RecordedRequest::segment)(5)).
    Reaction,
    /// `POST /channels/{id}/threads`: a thread without a starter message.
    StartThread,
    /// `POST /channels/{id}/messages/{id}/threads`: a thread from a message.
    StartThreadFromMessage,
    /// `PATCH /channels/{id}`: edit a channel or thread (archive, rename).
    EditChannel,
    /// `PUT|DELETE /channels/{id}/thread-members/{user or @me}`.
    ThreadMember,
    /// `POST /channels/{id}/typing`.
    Typing,
    /// `GET /guilds/{id}`.
    GetGuild,
    /// `GET /guilds/{id}/channels`.
    GuildChannels,
    /// `GET /guilds/{id}/roles`.
    GuildRoles,
    /// `GET /guilds/{id}/members/{user}`.
    GuildMember,
    /// Anything else: recorded and answered 404 with Discord's error shape.
    Unknown,
}

/// A file part of a multipart request.
#[derive(Clone, Debug)]
pub struct RecordedFile {
    /// The form field name (`files[0]`, …).
    pub field: String,
    /// The file name the client gave.
    pub filename: String,
    /// The part's content type, if given.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub data: Vec<u8>,
}

/// One REST request the fake received, with what it answered.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Position in the log (0 = first request).
    pub index: usize,
    /// What route it matched.
    pub route: Route,
    /// HTTP method (`GET`, `POST`, …).
    pub method: String,
    /// The path after `/api/v10` (e.g. `/channels/1/messages`).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The JSON body (for multipart requests: the `payload_json` part); `None` without a body.
    pub body: Option<Value>,
    /// Files of a multipart request.
    pub files: Vec<RecordedFile>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// When the request arrived.
    pub at: Instant,
    /// The status the fake answered (0: none, [`Reply::Silence`]).
    pub status: u16,
}

impl RecordedRequest {
    /// The path segment at `index` of [`path`](Self::path) (0 is the first after `/api/v10`).
    pub fn segment(&self, index: usize) -> Option<&str> {
        self.path.trim_start_matches('/').split('/').nth(index)
    }

    /// The request body's `content` (for messages, edits and followups), or for an interaction
    /// callback the `data.content`.
    pub fn content(&self) -> Option<&str> {
        let body = self.body.as_ref()?;
        body.get("content")
            .or_else(|| body.get("data").and_then(|d| d.get("content")))
            .and_then(Value::as_str)
    }
}

/// A scripted answer for the next requests of a route (see
/// [`FakeDiscord::script`](crate::FakeDiscord::script)).
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// 429 with Discord's body `{"message", "retry_after", "global"}` and headers
    /// `Retry-After`, `X-RateLimit-Limit`, `-Remaining` (0), `-Reset`, `-Reset-After`, `-Bucket`,
    /// `-Scope` (and `X-RateLimit-Global` when global).
    RateLimited {
        /// How long the client must wait.
        retry_after: Duration,
        /// Whether it is the global limit.
        global: bool,
    },
    /// 429 with no rate-limit headers and a body that is not Discord's JSON error (what a
    /// client sees from a proxy that gives no hint how long to wait).
    BareRateLimit,
    /// Any error status with Discord's JSON error body `{"message", "code"}` (e.g. 400 with code
    /// 30046 "Maximum number of edits to messages older than 1 hour reached").
    Error {
        /// HTTP status.
        status: u16,
        /// Discord's JSON error code.
        code: u32,
        /// The message.
        message: String,
    },
    /// The route does its work as usual (a message is created, an edit applied, their events
    /// dispatched), and then the client is answered the inner reply instead of the result: what
    /// a client sees of a 504 from Discord's edge that stopped waiting for the API, say
    /// (`DoneThen(Box::new(Reply::Error { status: 504, .. }))`), or of a connection cut after
    /// the request went through (`DoneThen(Box::new(Reply::CutOff))`).
    DoneThen(Box<Reply>),
    /// The connection breaks before the answer is complete: the client gets a transport error
    /// and cannot tell whether the request was done (the fake sends the answer's head, status
    /// 200, then cuts its body off). On its own the route does nothing; after
    /// [`Reply::DoneThen`] it did its work.
    CutOff,
    /// No answer ever comes, and the connection stays open: what a client sees of a
    /// connection that died silently (recorded with status 0). On its own the route does
    /// nothing; after [`Reply::DoneThen`] it did its work.
    Silence,
}

/// A queued scripted answer.
pub(crate) struct Script {
    pub route: Route,
    pub remaining: usize,
    pub reply: Reply,
}
