//! Assembling an agent from the `[agent]` config: its provider, its tools
//! (sessions in a socket directory, files in the work directory, skills) and
//! its system prompt. `hm-agent` and the Discord bridge both build theirs here.

use std::path::{Path, PathBuf};

use heimdall_client::Launcher;

use crate::agent::{Agent, LoopLimits};
use crate::config::AgentConfig;
use crate::conversation::Message;
use crate::provider::{Provider, ProviderError};
use crate::store::Conversation;
use crate::tools::files::FileTools;
use crate::tools::sessions::SessionTools;
use crate::tools::skills::{system_prompt, Skills};
use crate::tools::Toolbox;

/// Why an agent could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The provider settings are unusable.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The work directory cannot be used.
    #[error("agent work_dir {path}: {source}")]
    WorkDir {
        /// The configured work directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// An agent's parts, before its conversation is chosen.
pub struct Parts {
    /// The model provider.
    pub provider: Provider,
    /// Every tool the model may call.
    pub tools: Toolbox,
    /// The system prompt (identity, skills, work directory).
    pub system: String,
    /// The session tools (also in `tools`), to end the agent's sessions later.
    pub sessions: SessionTools,
}

impl Parts {
    /// Builds the parts from `cfg`; sessions are started in `socket_dir`
    /// with `config_file` (if any) passed to `hm start`.
    pub fn new(
        cfg: &AgentConfig,
        socket_dir: PathBuf,
        config_file: Option<&Path>,
    ) -> Result<Parts, SetupError> {
        let provider = Provider::new(cfg.provider_settings())?;
        let work_dir = cfg.work_path();
        let files = FileTools::new(&work_dir).map_err(|source| SetupError::WorkDir {
            path: work_dir.clone(),
            source,
        })?;
        let mut launcher = Launcher::new().socket_dir(&socket_dir);
        if let Some(path) = config_file {
            launcher = launcher.config(path);
        }
        let sessions = SessionTools::new(
            launcher,
            socket_dir,
            cfg.max_sessions,
            files.root().to_path_buf(),
        );
        let skills = Skills::load(&cfg.skills_path());
        let system = system_prompt(&cfg.identity_path(), &skills, files.root());
        let mut tools = Toolbox::new(cfg.tool_timeout());
        tools.add(sessions.clone());
        tools.add(files);
        tools.add(skills);
        Ok(Parts {
            provider,
            tools,
            system,
            sessions,
        })
    }

    /// The agent, continuing `history` and recording into `store`.
    pub fn into_agent(
        self,
        cfg: &AgentConfig,
        history: Vec<Message>,
        store: Conversation,
    ) -> Agent {
        Agent::new(
            self.provider,
            self.tools,
            self.system,
            LoopLimits {
                max_iterations: cfg.max_iterations,
                truncation: cfg.truncation,
            },
            history,
            Some(store),
        )
    }
}
