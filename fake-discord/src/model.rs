//! Discord API v10 objects as JSON, complete enough for serenity 0.12.5 to parse (every field it
//! requires, in Discord's shapes), and the fake's world: guilds, channels, threads, messages,
//! registered commands and open interactions.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::{json, Value};

use crate::ids::{self, snowflake, timestamp};

/// Someone acting in a guild: the user behind an interaction or a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user's id.
    pub id: u64,
    /// The user's name (`username`; `global_name` is the same).
    pub name: String,
    /// The member's role ids in the guild of the channel acted in (`@everyone` is implied).
    pub roles: Vec<u64>,
}

impl Actor {
    /// A user with the given id and name and no roles.
    pub fn new(id: u64, name: &str) -> Self {
        Self {
            id,
            name: name.to_owned(),
            roles: Vec::new(),
        }
    }

    /// The same user with these roles.
    pub fn with_roles(mut self, roles: &[u64]) -> Self {
        self.roles = roles.to_vec();
        self
    }
}

/// Channel types used by the fake (Discord's numbers).
pub(crate) const GUILD_TEXT: u64 = 0;
pub(crate) const GUILD_CATEGORY: u64 = 4;
pub(crate) const PUBLIC_THREAD: u64 = 11;
pub(crate) const PRIVATE_THREAD: u64 = 12;

/// A guild's fixed parts.
pub(crate) struct Guild {
    pub id: u64,
    pub name: &'static str,
    pub roles: Vec<Value>,
    pub joined_at: String,
}

/// Everything the fake knows besides the request log and the gateway.
pub(crate) struct World {
    pub guilds: Vec<Guild>,
    /// Channels and threads by id (GuildChannel JSON, `guild_id` included).
    pub channels: BTreeMap<u64, Value>,
    /// Messages by id (Message JSON as the REST API returns it).
    pub messages: BTreeMap<u64, Value>,
    /// Interactions sent to the bot, by id.
    pub interactions: HashMap<u64, InteractionState>,
    /// Registered application commands by id (global and per guild).
    pub commands: BTreeMap<u64, Value>,
    /// Members seen in events the tests sent, by (guild, user).
    pub members: HashMap<(u64, u64), Actor>,
    /// Messages created with `enforce_nonce`, by (author, nonce): the message and when.
    pub nonces: HashMap<(u64, String), (u64, Instant)>,
}

/// What the fake remembers of an interaction it sent.
pub(crate) struct InteractionState {
    pub token: String,
    pub channel_id: u64,
    /// The callback type the bot answered with, once it did.
    pub answered: Option<u64>,
    /// The message the interaction's original response is (for types 4 and 5).
    pub original: Option<u64>,
    /// The deferred "thinking" original still waits for its content (the first followup
    /// becomes it, as on Discord).
    pub loading: bool,
    /// The message a component interaction was on.
    pub component_message: Option<u64>,
    /// The interacting member, as JSON.
    pub member: Value,
    /// The command's name (empty for components).
    pub name: String,
    /// The interaction type (2 command, 3 component, 4 autocomplete, 5 modal submit).
    pub kind: u64,
    /// The modal the bot answered with (callback type 9), its `data`.
    pub modal: Option<Value>,
}

impl World {
    pub fn new() -> Self {
        let joined_at = timestamp();
        let mut world = World {
            guilds: vec![
                Guild {
                    id: ids::GUILD,
                    name: "Heimdall Test",
                    roles: vec![
                        role(
                            ids::ROLE_EVERYONE,
                            "@everyone",
                            0,
                            ids::EVERYONE_PERMISSIONS,
                            None,
                        ),
                        role(
                            ids::ROLE_OPERATOR,
                            "operators",
                            2,
                            ids::EVERYONE_PERMISSIONS,
                            None,
                        ),
                        role(
                            ids::ROLE_VIEWER,
                            "viewers",
                            1,
                            ids::EVERYONE_PERMISSIONS,
                            None,
                        ),
                        role(
                            ids::ROLE_BOT,
                            ids::BOT_NAME,
                            3,
                            ids::BOT_PERMISSIONS,
                            Some(ids::BOT_USER),
                        ),
                    ],
                    joined_at: joined_at.clone(),
                },
                Guild {
                    id: ids::OTHER_GUILD,
                    name: "Elsewhere",
                    roles: vec![role(
                        ids::OTHER_GUILD,
                        "@everyone",
                        0,
                        ids::BOT_PERMISSIONS,
                        None,
                    )],
                    joined_at,
                },
            ],
            channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            interactions: HashMap::new(),
            commands: BTreeMap::new(),
            members: HashMap::new(),
            nonces: HashMap::new(),
        };
        for (id, guild, kind, name, parent, position) in [
            (
                ids::CATEGORY,
                ids::GUILD,
                GUILD_CATEGORY,
                "Text Channels",
                None,
                0,
            ),
            (
                ids::CHANNEL_GENERAL,
                ids::GUILD,
                GUILD_TEXT,
                "general",
                Some(ids::CATEGORY),
                0,
            ),
            (
                ids::CHANNEL_OPS,
                ids::GUILD,
                GUILD_TEXT,
                "ops",
                Some(ids::CATEGORY),
                1,
            ),
            (
                ids::CHANNEL_ELSEWHERE,
                ids::OTHER_GUILD,
                GUILD_TEXT,
                "elsewhere",
                None,
                0,
            ),
        ] {
            world
                .channels
                .insert(id, channel(id, guild, kind, name, parent, position));
        }
        world
    }

    /// The guild a channel or thread belongs to.
    pub fn guild_of(&self, channel_id: u64) -> Option<u64> {
        self.channels
            .get(&channel_id)
            .and_then(|c| c["guild_id"].as_str())
            .and_then(|s| s.parse().ok())
    }

    /// The roles of a user in a guild as the fake knows them.
    fn roles_of(&self, guild_id: u64, user_id: u64) -> Vec<u64> {
        if user_id == ids::BOT_USER && guild_id == ids::GUILD {
            return vec![ids::ROLE_BOT];
        }
        self.members
            .get(&(guild_id, user_id))
            .map(|a| a.roles.clone())
            .unwrap_or_default()
    }

    /// A guild member object for `GET /guilds/{id}/members/{user}`: the bot, the owner or an
    /// actor the tests used in that guild.
    pub fn member(&self, guild_id: u64, user_id: u64) -> Option<Value> {
        let guild = self.guilds.iter().find(|g| g.id == guild_id)?;
        let actor = match user_id {
            ids::BOT_USER => bot_actor(),
            ids::OWNER => Actor::new(ids::OWNER, "owner"),
            _ => self.members.get(&(guild_id, user_id))?.clone(),
        };
        let actor = actor.with_roles(&self.roles_of(guild_id, user_id));
        let mut member = member(&actor, &guild.joined_at, None);
        member["guild_id"] = json!(guild_id.to_string());
        Some(member)
    }

    /// A stored message as the gateway sends it: with `guild_id` and the author's partial
    /// `member` (no `user`).
    pub fn gateway_message(&self, message: &Value) -> Value {
        let mut event = message.clone();
        let channel_id = message["channel_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        if let Some(guild_id) = self.guild_of(channel_id) {
            let author = id_of(&message["author"]);
            let joined_at = self
                .guilds
                .iter()
                .find(|g| g.id == guild_id)
                .map(|g| g.joined_at.clone())
                .unwrap_or_default();
            let actor = Actor::new(author, "").with_roles(&self.roles_of(guild_id, author));
            let mut partial = member(&actor, &joined_at, None);
            if let Some(object) = partial.as_object_mut() {
                object.remove("user");
            }
            event["guild_id"] = json!(guild_id.to_string());
            event["member"] = partial;
        }
        event
    }

    /// The permissions of a member with these roles in a guild (`@everyone` included).
    pub fn permissions(&self, guild_id: u64, roles: &[u64]) -> u64 {
        let Some(guild) = self.guilds.iter().find(|g| g.id == guild_id) else {
            return 0;
        };
        guild
            .roles
            .iter()
            .filter(|r| {
                let id = id_of(r);
                id == guild_id || roles.contains(&id)
            })
            .filter_map(|r| r["permissions"].as_str()?.parse::<u64>().ok())
            .fold(0, |acc, p| acc | p)
    }

    /// The GUILD_CREATE payload of a guild: the guild with its roles, channels, threads and
    /// members (the bot and the owner).
    pub fn guild_create(&self, guild: &Guild) -> Value {
        let (channels, threads): (Vec<&Value>, Vec<&Value>) = self
            .channels
            .values()
            .filter(|c| c["guild_id"] == json!(guild.id.to_string()))
            .partition(|c| !is_thread(c));
        let bot_roles: Vec<u64> = if guild.id == ids::GUILD {
            vec![ids::ROLE_BOT]
        } else {
            Vec::new()
        };
        let members = vec![
            member(&bot_actor().with_roles(&bot_roles), &guild.joined_at, None),
            member(&Actor::new(ids::OWNER, "owner"), &guild.joined_at, None),
        ];
        json!({
            "id": guild.id.to_string(),
            "name": guild.name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": ids::OWNER.to_string(),
            "region": null,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": guild.roles,
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
            "home_header": null,
            "hub_type": null,
            "latest_onboarding_question_id": null,
            "soundboard_sounds": [],
            "embedded_activities": [],
            "activity_instances": [],
            "version": 1_700_000_000_000u64,
            "joined_at": guild.joined_at,
            "large": false,
            "unavailable": false,
            "lazy": true,
            "member_count": members.len(),
            "voice_states": [],
            "members": members,
            "channels": channels,
            "threads": threads,
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        })
    }
}

/// The numeric id of a JSON object whose `id` is a snowflake string.
pub(crate) fn id_of(value: &Value) -> u64 {
    value["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

pub(crate) fn is_thread(channel: &Value) -> bool {
    matches!(
        channel["type"].as_u64(),
        Some(PUBLIC_THREAD | PRIVATE_THREAD | 10)
    )
}

/// Whether a channel is an archived thread: only its messages may be deleted; a message
/// sent in it unarchives it, unless a moderator locked it.
pub(crate) fn is_archived(channel: &Value) -> bool {
    is_thread(channel) && channel["thread_metadata"]["archived"] == true
}

/// Archive or unarchive a thread (its `archive_timestamp` is now).
pub(crate) fn set_archived(thread: &mut Value, archived: bool) {
    thread["thread_metadata"]["archived"] = Value::Bool(archived);
    thread["thread_metadata"]["archive_timestamp"] = json!(timestamp());
}

/// The bot as an actor.
pub(crate) fn bot_actor() -> Actor {
    Actor::new(ids::BOT_USER, ids::BOT_NAME)
}

/// A role object with every field Discord sends (serenity 0.12.5 requires `colors` too).
fn role(id: u64, name: &str, position: u64, permissions: u64, bot: Option<u64>) -> Value {
    let tags = match bot {
        Some(bot_id) => json!({ "bot_id": bot_id.to_string() }),
        None => json!({}),
    };
    json!({
        "id": id.to_string(),
        "name": name,
        "description": null,
        "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": position,
        "permissions": permissions.to_string(),
        "managed": bot.is_some(),
        "mentionable": false,
        "flags": 0,
        "tags": tags,
    })
}

/// A guild channel object (text channel, category or thread parent).
pub(crate) fn channel(
    id: u64,
    guild_id: u64,
    kind: u64,
    name: &str,
    parent_id: Option<u64>,
    position: u64,
) -> Value {
    let mut channel = json!({
        "id": id.to_string(),
        "type": kind,
        "guild_id": guild_id.to_string(),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": parent_id.map(|p| p.to_string()),
        "flags": 0,
        "nsfw": false,
    });
    if kind == GUILD_TEXT {
        channel["topic"] = Value::Null;
        channel["last_message_id"] = Value::Null;
        channel["rate_limit_per_user"] = json!(0);
        channel["default_auto_archive_duration"] = json!(1440);
        channel["default_thread_rate_limit_per_user"] = json!(0);
    }
    channel
}

/// A thread channel object as Discord returns it from "start thread".
pub(crate) fn thread(id: u64, parent: &Value, kind: u64, name: &str, archive: u64) -> Value {
    let now = timestamp();
    json!({
        "id": id.to_string(),
        "type": kind,
        "guild_id": parent["guild_id"],
        "parent_id": parent["id"],
        "owner_id": ids::BOT_USER.to_string(),
        "name": name,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "flags": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": archive,
            "archive_timestamp": now,
            "locked": false,
            "invitable": kind == PRIVATE_THREAD,
            "create_timestamp": now,
        },
        "member": {
            "id": id.to_string(),
            "user_id": ids::BOT_USER.to_string(),
            "join_timestamp": now,
            "flags": 1,
        },
    })
}

/// A user object.
pub(crate) fn user(actor: &Actor) -> Value {
    json!({
        "id": actor.id.to_string(),
        "username": actor.name,
        "discriminator": "0",
        "global_name": if actor.id == ids::BOT_USER { Value::Null } else { json!(actor.name) },
        "avatar": null,
        "avatar_decoration_data": null,
        "banner": null,
        "accent_color": null,
        "bot": actor.id == ids::BOT_USER,
        "system": false,
        "public_flags": 0,
        "flags": 0,
        "collectibles": null,
        "clan": null,
        "primary_guild": null,
    })
}

/// The bot's user object as `GET /users/@me` and READY give it.
pub(crate) fn current_user() -> Value {
    let mut user = user(&bot_actor());
    user["mfa_enabled"] = json!(false);
    user["verified"] = json!(true);
    user["email"] = Value::Null;
    user["locale"] = json!("en-US");
    user["premium_type"] = json!(0);
    user
}

/// A guild member object; `permissions` is set for members in interactions.
pub(crate) fn member(actor: &Actor, joined_at: &str, permissions: Option<u64>) -> Value {
    let mut member = json!({
        "user": user(actor),
        "nick": null,
        "avatar": null,
        "banner": null,
        "avatar_decoration_data": null,
        "roles": actor.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "joined_at": joined_at,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "communication_disabled_until": null,
        "unusual_dm_activity_until": null,
    });
    if let Some(permissions) = permissions {
        member["permissions"] = json!(permissions.to_string());
    }
    member
}

/// A message object as the REST API returns it (no `guild_id`/`member`; the gateway adds them).
pub(crate) fn message(id: u64, channel_id: u64, author: &Actor, body: &Value) -> Value {
    let mut message = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": user(author),
        "content": "",
        "timestamp": timestamp(),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "components": [],
    });
    apply_message_body(&mut message, body);
    // The nonce comes back in the answer and in MESSAGE_CREATE; edits cannot set it.
    if let Some(nonce) = body.get("nonce").filter(|n| !n.is_null()) {
        message["nonce"] = nonce.clone();
    }
    message
}

/// Fields a create/edit message body may set, copied onto a message object.
pub(crate) fn apply_message_body(message: &mut Value, body: &Value) {
    for key in ["content", "embeds", "components", "tts", "flags"] {
        if let Some(value) = body.get(key) {
            if !value.is_null() {
                message[key] = value.clone();
            }
        }
    }
    // Components come back with the fields Discord fills in (a button's default style etc. are
    // sent by the bot); embeds get Discord's `type`.
    if let Some(embeds) = message["embeds"].as_array_mut() {
        for embed in embeds {
            if embed.get("type").is_none() {
                embed["type"] = json!("rich");
            }
        }
    }
}

/// An attachment object for an uploaded file.
pub(crate) fn attachment(filename: &str, size: usize, content_type: Option<&str>) -> Value {
    let id = snowflake();
    let url = format!("https://cdn.discordapp.com/attachments/0/{id}/{filename}");
    json!({
        "id": id.to_string(),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
        "width": null,
        "height": null,
        "ephemeral": false,
    })
}
