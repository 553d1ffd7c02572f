//! Who may do what, where. Default deny.
//!
//! A request is allowed only when it comes from an allowed guild, in an
//! allowed channel (or a watch thread of the bridge, which counts as its
//! parent channel), from a user who has the level the action needs.
//! Viewers may list, look at screens and watch; operators may also run,
//! type, answer prompts, interrupt, kill and talk to the agent. Every
//! command, button press and message is checked against the user who sent
//! it, so a button pressed by someone else than the person it was meant for
//! is checked against the presser.

use std::collections::HashSet;

use crate::config::{DiscordConfig, Id};

/// A user's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// On no list.
    None,
    /// May look.
    Viewer,
    /// May act.
    Operator,
}

/// Something a user asks the bridge to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `/ls`.
    List,
    /// `/status`.
    Status,
    /// `/screen`.
    Screen,
    /// `/watch`.
    Watch,
    /// `/unwatch`.
    Unwatch,
    /// `/run`.
    Run,
    /// `/send` or a message typed in a watch thread.
    Send,
    /// `/keys`.
    Keys,
    /// `/interrupt`.
    Interrupt,
    /// `/kill`.
    Kill,
    /// A button answering a waiting prompt.
    Answer,
    /// `/ask` or a message to the agent.
    Agent,
}

impl Action {
    /// The level the action needs.
    pub fn needs(self) -> Level {
        match self {
            Action::List | Action::Status | Action::Screen | Action::Watch | Action::Unwatch => {
                Level::Viewer
            }
            Action::Run
            | Action::Send
            | Action::Keys
            | Action::Interrupt
            | Action::Kill
            | Action::Answer
            | Action::Agent => Level::Operator,
        }
    }

    /// The name written to the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Action::List => "ls",
            Action::Status => "status",
            Action::Screen => "screen",
            Action::Watch => "watch",
            Action::Unwatch => "unwatch",
            Action::Run => "run",
            Action::Send => "send",
            Action::Keys => "keys",
            Action::Interrupt => "interrupt",
            Action::Kill => "kill",
            Action::Answer => "answer",
            Action::Agent => "agent",
        }
    }
}

/// Who asks, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The user.
    pub user: u64,
    /// The user's roles in the guild (empty outside guilds).
    pub roles: Vec<u64>,
    /// The guild, `None` in a DM.
    pub guild: Option<u64>,
    /// The channel (or thread) the request came from.
    pub channel: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not in an allowed guild (DMs included).
    Guild,
    /// Not in an allowed channel.
    Channel,
    /// The user's level is too low.
    Level {
        /// What the user has.
        has: Level,
        /// What the action needs.
        needs: Level,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Guild => f.write_str("this bot does not act in this server"),
            Refusal::Channel => f.write_str("this bot does not act in this channel"),
            Refusal::Level {
                has: Level::None, ..
            } => f.write_str("you are not on this bot's list of operators or viewers"),
            Refusal::Level { .. } => f.write_str("viewers may look, only operators may do that"),
        }
    }
}

/// The allowlists, from the config.
#[derive(Debug, Clone, Default)]
pub struct Access {
    guilds: HashSet<u64>,
    channels: HashSet<u64>,
    operators: HashSet<u64>,
    viewers: HashSet<u64>,
    operator_roles: HashSet<u64>,
    viewer_roles: HashSet<u64>,
}

fn set(ids: &[Id]) -> HashSet<u64> {
    ids.iter().map(|i| i.0).collect()
}

impl Access {
    /// The allowlists of a config. Agent channels are allowed channels too.
    pub fn new(cfg: &DiscordConfig) -> Access {
        let mut channels = set(&cfg.channels);
        if !channels.is_empty() {
            channels.extend(cfg.agent_channels.iter().map(|i| i.0));
        }
        Access {
            guilds: set(&cfg.guilds),
            channels,
            operators: set(&cfg.operators),
            viewers: set(&cfg.viewers),
            operator_roles: set(&cfg.operator_roles),
            viewer_roles: set(&cfg.viewer_roles),
        }
    }

    /// The user's level.
    pub fn level(&self, user: u64, roles: &[u64]) -> Level {
        if self.operators.contains(&user) || roles.iter().any(|r| self.operator_roles.contains(r)) {
            Level::Operator
        } else if self.viewers.contains(&user)
            || roles.iter().any(|r| self.viewer_roles.contains(r))
        {
            Level::Viewer
        } else {
            Level::None
        }
    }

    /// Whether `channel` may be a thread of a listed channel: a channel of a
    /// listed guild that is not itself listed.
    pub fn may_be_thread(&self, guild: Option<u64>, channel: u64) -> bool {
        guild.is_some_and(|g| self.guilds.contains(&g)) && !self.channels.contains(&channel)
    }

    /// Whether the place is allowed. `parent` is the parent channel when
    /// `channel` is one of the bridge's watch threads.
    pub fn place_allowed(
        &self,
        guild: Option<u64>,
        channel: u64,
        parent: Option<u64>,
    ) -> Result<(), Refusal> {
        match guild {
            Some(g) if self.guilds.contains(&g) => {}
            _ => return Err(Refusal::Guild),
        }
        if self.channels.is_empty()
            || self.channels.contains(&channel)
            || parent.is_some_and(|p| self.channels.contains(&p))
        {
            Ok(())
        } else {
            Err(Refusal::Channel)
        }
    }

    /// Check a request. `parent` as in [`Access::place_allowed`].
    pub fn check(
        &self,
        who: &Requester,
        parent: Option<u64>,
        action: Action,
    ) -> Result<Level, Refusal> {
        self.place_allowed(who.guild, who.channel, parent)?;
        let has = self.level(who.user, &who.roles);
        let needs = action.needs();
        if has >= needs {
            Ok(has)
        } else {
            Err(Refusal::Level { has, needs })
        }
    }

    /// What the bot logs at start: who may do what, or that nobody may
    /// act (and why).
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.guilds.is_empty() {
            lines.push(
                "no [discord] guilds configured: everything is refused (default deny)".to_string(),
            );
        }
        let nobody = self.operators.is_empty()
            && self.viewers.is_empty()
            && self.operator_roles.is_empty()
            && self.viewer_roles.is_empty();
        if nobody {
            lines.push(
                "no operators, viewers or roles configured: everything is refused (default deny)"
                    .to_string(),
            );
        }
        if lines.is_empty() {
            let channels = if self.channels.is_empty() {
                "every channel".to_string()
            } else {
                format!("{} channel(s)", self.channels.len())
            };
            lines.push(format!(
                "acting in {} guild(s), {channels}: {} operator(s), {} viewer(s), {} operator role(s), {} viewer role(s); everyone else is refused",
                self.guilds.len(),
                self.operators.len(),
                self.viewers.len(),
                self.operator_roles.len(),
                self.viewer_roles.len()
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUILD: u64 = 10;
    const CHAN: u64 = 20;
    const AGENT_CHAN: u64 = 21;
    const OP: u64 = 1;
    const VIEWER: u64 = 2;
    const OP_ROLE: u64 = 100;
    const VIEW_ROLE: u64 = 200;

    fn access(channels: &[u64]) -> Access {
        Access::new(&DiscordConfig {
            guilds: vec![Id(GUILD)],
            channels: channels.iter().map(|c| Id(*c)).collect(),
            operators: vec![Id(OP)],
            viewers: vec![Id(VIEWER)],
            operator_roles: vec![Id(OP_ROLE)],
            viewer_roles: vec![Id(VIEW_ROLE)],
            agent_channels: vec![Id(AGENT_CHAN)],
            ..DiscordConfig::default()
        })
    }

    fn who(user: u64, roles: &[u64], guild: Option<u64>, channel: u64) -> Requester {
        Requester {
            user,
            roles: roles.to_vec(),
            guild,
            channel,
        }
    }

    const ALL: [Action; 12] = [
        Action::List,
        Action::Status,
        Action::Screen,
        Action::Watch,
        Action::Unwatch,
        Action::Run,
        Action::Send,
        Action::Keys,
        Action::Interrupt,
        Action::Kill,
        Action::Answer,
        Action::Agent,
    ];

    #[test]
    fn operators_may_do_everything_viewers_only_look() {
        let a = access(&[CHAN]);
        for action in ALL {
            assert!(a
                .check(&who(OP, &[], Some(GUILD), CHAN), None, action)
                .is_ok());
            assert!(a
                .check(&who(9, &[OP_ROLE], Some(GUILD), CHAN), None, action)
                .is_ok());
            let viewer = a.check(&who(VIEWER, &[], Some(GUILD), CHAN), None, action);
            let by_role = a.check(&who(9, &[VIEW_ROLE], Some(GUILD), CHAN), None, action);
            assert_eq!(viewer, by_role);
            match action.needs() {
                Level::Viewer => assert_eq!(viewer, Ok(Level::Viewer), "{action:?}"),
                _ => assert_eq!(
                    viewer,
                    Err(Refusal::Level {
                        has: Level::Viewer,
                        needs: Level::Operator
                    }),
                    "{action:?}"
                ),
            }
        }
        for action in [
            Action::Kill,
            Action::Send,
            Action::Interrupt,
            Action::Answer,
            Action::Run,
        ] {
            assert_eq!(action.needs(), Level::Operator);
        }
    }

    #[test]
    fn strangers_are_refused_everywhere() {
        let a = access(&[]);
        for action in ALL {
            let r = a.check(&who(9, &[12345], Some(GUILD), CHAN), None, action);
            assert!(
                matches!(
                    r,
                    Err(Refusal::Level {
                        has: Level::None,
                        ..
                    })
                ),
                "{action:?}"
            );
        }
    }

    #[test]
    fn outside_allowed_places_operators_are_refused_too() {
        let a = access(&[CHAN]);
        let op = |guild, channel| who(OP, &[], guild, channel);
        assert_eq!(
            a.check(&op(None, CHAN), None, Action::List),
            Err(Refusal::Guild)
        );
        assert_eq!(
            a.check(&op(Some(11), CHAN), None, Action::List),
            Err(Refusal::Guild)
        );
        assert_eq!(
            a.check(&op(Some(GUILD), 30), None, Action::List),
            Err(Refusal::Channel)
        );
        // A watch thread counts as its parent channel.
        assert!(a
            .check(&op(Some(GUILD), 555), Some(CHAN), Action::Send)
            .is_ok());
        assert_eq!(
            a.check(&op(Some(GUILD), 555), Some(30), Action::Send),
            Err(Refusal::Channel)
        );
        // Agent channels are allowed channels.
        assert!(a
            .check(&op(Some(GUILD), AGENT_CHAN), None, Action::Agent)
            .is_ok());
        // No channel list: every channel of the guild.
        assert!(access(&[])
            .check(&op(Some(GUILD), 30), None, Action::Kill)
            .is_ok());
    }

    #[test]
    fn nothing_configured_denies_everything_and_says_so() {
        let a = Access::new(&DiscordConfig::default());
        for action in ALL {
            assert!(a
                .check(&who(OP, &[OP_ROLE], Some(GUILD), CHAN), None, action)
                .is_err());
        }
        let s = a.summary().join("\n");
        assert!(s.contains("default deny") && s.contains("guilds"), "{s}");
        let s = access(&[CHAN]).summary().join("\n");
        assert!(
            !s.contains("default deny") && s.contains("1 operator(s)"),
            "{s}"
        );
    }

    #[test]
    fn refusals_say_why() {
        let none = Refusal::Level {
            has: Level::None,
            needs: Level::Viewer,
        }
        .to_string();
        assert!(none.contains("not on"), "{none}");
        let viewer = Refusal::Level {
            has: Level::Viewer,
            needs: Level::Operator,
        }
        .to_string();
        assert!(viewer.contains("only operators"), "{viewer}");
    }
}
