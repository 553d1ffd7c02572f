//! hm-discord: the Discord bridge. Reads `[discord]` (and `[agent]`, for
//! the agent in chat) from heimdall.toml, the bot token from the
//! environment variable `token_env` names, and runs until stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use heimdall_client::resolve_socket_dir;
use heimdall_discord::audit::AuditLog;
use heimdall_discord::bot::{self, Bridge};
use heimdall_discord::chat::AgentHub;
use heimdall_discord::config::{data_dir, DiscordConfig};
use heimdall_discord::sessions::Sessions;

#[derive(Parser, Debug)]
#[command(
    name = "hm-discord",
    version,
    about = "Control and watch heimdall sessions from Discord, and talk to the agent"
)]
struct Cli {
    /// Configuration file (default: ./heimdall.toml, then ~/.config/heimdall/heimdall.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Socket directory of the sessions (default as for hm: $HEIMDALL_SOCKET_DIR,
    /// the config's socket_dir, ~/.local/share/heimdall/sessions).
    #[arg(long, value_name = "DIR")]
    socket_dir: Option<PathBuf>,
    /// Check the configuration and print who may do what, then exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HM_DISCORD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,serenity=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hm-discord: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hm-discord: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let loaded = heimdall_agent::config::load(cli.config.as_deref())?;
    let cfg = DiscordConfig::from_file(&loaded.file)?;
    let bridge_dir = data_dir();
    let audit_path = cfg.audit_path();
    let audit = AuditLog::open(&audit_path)?;
    let socket_dir = resolve_socket_dir(cli.socket_dir.as_deref(), &loaded.file);
    let sessions = Sessions::new(socket_dir.clone(), loaded.file.path.clone());
    let config_path = loaded.file.path.clone();
    let agent = AgentHub::new(loaded, socket_dir.clone(), &bridge_dir);
    let bridge = Bridge::new(cfg.clone(), audit, sessions, Some(agent)).keep_watches_in(bridge_dir);
    for line in bridge.access().summary() {
        tracing::info!("{line}");
    }
    tracing::info!(
        "config {}, sessions in {}, audit log {}",
        config_path.map_or_else(|| "(none: defaults)".into(), |p| p.display().to_string()),
        socket_dir.display(),
        audit_path.display()
    );
    if cli.check {
        return Ok(());
    }
    let token = cfg.token().map_err(anyhow::Error::msg)?;
    let mut client = bot::client(bridge, &token)
        .await
        .context("cannot set up the Discord client")?;
    let shards = client.shard_manager.clone();
    // Ctrl-C, or SIGTERM as a service manager stops it: the gateway is
    // closed, so Discord shows the bot gone at once.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("SIGTERM handler")?;
    tokio::spawn(async move {
        let by = tokio::select! {
            r = tokio::signal::ctrl_c() => match r {
                Ok(()) => "Ctrl-C",
                Err(_) => return,
            },
            _ = term.recv() => "SIGTERM",
        };
        tracing::info!("stopping ({by})");
        shards.shutdown_all().await;
    });
    client
        .start()
        .await
        .map_err(|e| gateway_error(e, &cfg.token_env))?;
    Ok(())
}

/// The gateway's end as the user can act on it: the privileged intent or
/// the token (from the variable `token_env`) Discord refused.
fn gateway_error(e: serenity::Error, token_env: &str) -> anyhow::Error {
    use serenity::gateway::GatewayError;
    let hint = match &e {
        serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents) => {
            " (enable the Message Content intent: Developer Portal, your application, \
             Bot, Privileged Gateway Intents)"
                .to_string()
        }
        serenity::Error::Gateway(GatewayError::InvalidAuthentication) => {
            format!(" (the bot token in {token_env} is not valid)")
        }
        _ => String::new(),
    };
    anyhow::anyhow!("Discord gateway: {e}{hint}")
}
