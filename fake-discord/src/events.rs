//! Events a test makes happen: slash commands, autocompletes, button presses, modal submits and
//! messages by users, built as Discord API v10 sends them.

use std::time::Instant;

use serde_json::{json, Value};

use crate::ids::{self, snowflake, token};
use crate::model::{self, Actor, InteractionState};
use crate::state::State;
use crate::Error;

/// An option of a slash command or autocomplete interaction.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOption(Value);

impl CommandOption {
    /// A string option.
    pub fn string(name: &str, value: &str) -> Self {
        Self(json!({ "name": name, "type": 3, "value": value }))
    }

    /// An integer option.
    pub fn integer(name: &str, value: i64) -> Self {
        Self(json!({ "name": name, "type": 4, "value": value }))
    }

    /// A boolean option.
    pub fn boolean(name: &str, value: bool) -> Self {
        Self(json!({ "name": name, "type": 5, "value": value }))
    }

    /// A subcommand with its own options.
    pub fn subcommand(name: &str, options: Vec<CommandOption>) -> Self {
        let options: Vec<Value> = options.into_iter().map(|o| o.0).collect();
        Self(json!({ "name": name, "type": 1, "options": options }))
    }

    /// Mark this option as the one being typed (for [`FakeDiscord::autocomplete`]).
    ///
    /// [`FakeDiscord::autocomplete`]: crate::FakeDiscord::autocomplete
    pub fn focused(mut self) -> Self {
        self.0["focused"] = json!(true);
        self
    }
}

/// An interaction the fake sent to the bot.
#[derive(Clone, Debug)]
pub struct SentInteraction {
    /// The interaction id (the first path segment of its callback).
    pub id: u64,
    /// Its token (callback and webhook paths carry it).
    pub token: String,
    /// When the fake dispatched it (Discord wants the callback within 3 s).
    pub sent_at: Instant,
}

/// Interaction type numbers.
const COMMAND: u64 = 2;
const COMPONENT: u64 = 3;
const AUTOCOMPLETE: u64 = 4;
const MODAL_SUBMIT: u64 = 5;

/// Send a slash command (or autocomplete) interaction.
pub(crate) fn command(
    state: &mut State,
    autocomplete: bool,
    channel_id: u64,
    actor: &Actor,
    name: &str,
    options: Vec<CommandOption>,
) -> Result<SentInteraction, Error> {
    let guild_id = guild_of(state, channel_id)?;
    let command = state
        .world
        .commands
        .values()
        .filter(|c| c["name"] == json!(name))
        .find(|c| c["guild_id"].is_null() || c["guild_id"] == json!(guild_id.to_string()))
        .ok_or_else(|| Error::UnregisteredCommand(name.to_owned()))?;
    let mut data = json!({
        "id": command["id"],
        "name": name,
        "type": 1,
        "options": options.into_iter().map(|o| o.0).collect::<Vec<_>>(),
    });
    if !command["guild_id"].is_null() {
        data["guild_id"] = command["guild_id"].clone();
    }
    let kind = if autocomplete { AUTOCOMPLETE } else { COMMAND };
    Ok(send(
        state, kind, channel_id, guild_id, actor, name, data, None,
    ))
}

/// Send a button press on a message the bot posted.
pub(crate) fn button(
    state: &mut State,
    message_id: u64,
    actor: &Actor,
    custom_id: &str,
) -> Result<SentInteraction, Error> {
    let message = state
        .world
        .messages
        .get(&message_id)
        .ok_or(Error::UnknownMessage(message_id))?;
    let has_button = message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["components"].as_array())
        .flatten()
        .any(|c| c["type"] == json!(2) && c["custom_id"] == json!(custom_id));
    if !has_button {
        return Err(Error::NoSuchButton {
            message: message_id,
            custom_id: custom_id.to_owned(),
        });
    }
    let channel_id = message["channel_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let guild_id = guild_of(state, channel_id)?;
    let data = json!({ "custom_id": custom_id, "component_type": 2 });
    Ok(send(
        state,
        COMPONENT,
        channel_id,
        guild_id,
        actor,
        "",
        data,
        Some(message_id),
    ))
}

/// The guild of a channel or thread in the fake's world.
fn guild_of(state: &State, channel_id: u64) -> Result<u64, Error> {
    state
        .world
        .guild_of(channel_id)
        .ok_or(Error::UnknownChannel(channel_id))
}

/// Submit the modal the bot showed in answer to `shown_by`, with values for its text inputs
/// (inputs not named are submitted empty).
pub(crate) fn modal_submit(
    state: &mut State,
    shown_by: u64,
    actor: &Actor,
    values: &[(&str, &str)],
) -> Result<SentInteraction, Error> {
    let shown = state
        .world
        .interactions
        .get(&shown_by)
        .ok_or(Error::NoModal(shown_by))?;
    let modal = shown.modal.clone().ok_or(Error::NoModal(shown_by))?;
    let (channel_id, message) = (shown.channel_id, shown.component_message);
    let inputs: Vec<String> = modal["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["components"][0]["custom_id"].as_str())
        .map(str::to_owned)
        .collect();
    if let Some((unknown, _)) = values
        .iter()
        .find(|(id, _)| !inputs.iter().any(|i| i == id))
    {
        return Err(Error::NoSuchInput((*unknown).to_owned()));
    }
    let rows: Vec<Value> = inputs
        .iter()
        .map(|input| {
            let value = values
                .iter()
                .find(|(id, _)| id == input)
                .map_or("", |(_, v)| *v);
            json!({
                "type": 1,
                "components": [{ "type": 4, "custom_id": input, "value": value }],
            })
        })
        .collect();
    let data = json!({ "custom_id": modal["custom_id"], "components": rows });
    let guild_id = guild_of(state, channel_id)?;
    Ok(send(
        state,
        MODAL_SUBMIT,
        channel_id,
        guild_id,
        actor,
        "",
        data,
        message,
    ))
}

#[allow(clippy::too_many_arguments)]
fn send(
    state: &mut State,
    kind: u64,
    channel_id: u64,
    guild_id: u64,
    actor: &Actor,
    name: &str,
    data: Value,
    component_message: Option<u64>,
) -> SentInteraction {
    state
        .world
        .members
        .insert((guild_id, actor.id), actor.clone());
    let id = snowflake();
    let interaction_token = token("aW50ZXJhY3Rpb246");
    let permissions = state.world.permissions(guild_id, &actor.roles);
    let bot_roles = if guild_id == ids::GUILD {
        vec![ids::ROLE_BOT]
    } else {
        Vec::new()
    };
    let app_permissions = state.world.permissions(guild_id, &bot_roles);
    let joined_at = state
        .world
        .guilds
        .iter()
        .find(|g| g.id == guild_id)
        .map(|g| g.joined_at.clone())
        .unwrap_or_default();
    let member = model::member(actor, &joined_at, Some(permissions));
    let mut channel = state.world.channels[&channel_id].clone();
    channel["permissions"] = json!(permissions.to_string());
    let mut interaction = json!({
        "id": id.to_string(),
        "application_id": ids::APPLICATION.to_string(),
        "type": kind,
        "data": data,
        "guild_id": guild_id.to_string(),
        "channel": channel,
        "channel_id": channel_id.to_string(),
        "member": member,
        "token": interaction_token,
        "version": 1,
        "app_permissions": app_permissions.to_string(),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": { "0": guild_id.to_string() },
        "context": 0,
        "attachment_size_limit": 10_485_760,
    });
    if let Some(message) = component_message.and_then(|m| state.world.messages.get(&m)) {
        interaction["message"] = message.clone();
    }
    state.world.interactions.insert(
        id,
        InteractionState {
            token: interaction_token.clone(),
            channel_id,
            answered: None,
            original: None,
            loading: false,
            component_message,
            member: interaction["member"].clone(),
            name: name.to_owned(),
            kind,
            modal: None,
        },
    );
    state.gateway.dispatch("INTERACTION_CREATE", interaction);
    SentInteraction {
        id,
        token: interaction_token,
        sent_at: Instant::now(),
    }
}

/// A message by a user in a channel or thread; mentions of the bot (`<@id>`) are filled in.
pub(crate) fn user_message(
    state: &mut State,
    channel_id: u64,
    actor: &Actor,
    content: &str,
) -> Result<u64, Error> {
    let guild_id = guild_of(state, channel_id)?;
    state
        .world
        .members
        .insert((guild_id, actor.id), actor.clone());
    if !crate::rest::unarchive_for_message(state, channel_id) {
        return Err(Error::LockedThread(channel_id));
    }
    let id = snowflake();
    let mut message = model::message(id, channel_id, actor, &json!({ "content": content }));
    let bot = ids::BOT_USER;
    if content.contains(&format!("<@{bot}>")) || content.contains(&format!("<@!{bot}>")) {
        message["mentions"] = json!([model::user(&model::bot_actor())]);
    }
    state.world.messages.insert(id, message.clone());
    let event = state.world.gateway_message(&message);
    state.gateway.dispatch("MESSAGE_CREATE", event);
    Ok(id)
}
