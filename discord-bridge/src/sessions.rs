//! The sessions, through the client library only: list, inspect, start,
//! type, signal, kill. Each function answers with the text to post (not
//! yet scrubbed or cut: the caller does that with [`crate::text`]).

use std::path::PathBuf;
use std::time::Duration;

use heimdall_client::{
    Client, ClientBuilder, ClientError, Launcher, Liveness, ScreenFormat, ScreenRequest,
    SignalSpec, SignalTarget, SocketDir, StartOptions,
};

/// How long one request to a session may take.
const DEADLINE: Duration = Duration::from_secs(15);

/// How long `/kill` waits for the session to end.
const KILL_WAIT: Duration = Duration::from_secs(15);

/// The sessions of one socket directory.
#[derive(Debug, Clone)]
pub struct Sessions {
    dir: SocketDir,
    launcher: Launcher,
}

/// How many rows above a screen are read with it, to scrub the lines its
/// top rows belong to whole (a wrapped secret, a private key).
pub const CONTEXT_ROWS: usize = 100;

/// The width assumed for a final screen whose record does not say it
/// (hm's default terminal size).
const DEFAULT_COLS: u16 = 80;

/// A session's screen, as text and with ANSI escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// Plain lines.
    pub text: Vec<String>,
    /// The same lines with escapes.
    pub ansi: Vec<String>,
    /// The terminal's width (a row that fills it goes on in the next).
    pub cols: u16,
    /// Up to [`CONTEXT_ROWS`] rows that scrolled off just above the
    /// screen, never shown: the line the top row is part of may start
    /// there, and a secret in it is found only whole.
    pub above: Vec<String>,
    /// The output offset the screen reflects.
    pub output_offset: u64,
    /// The cursor (row and column of `text`, from 0), when known: a
    /// secret the program is still writing ends there.
    pub cursor: Option<(u16, u16)>,
}

impl Sessions {
    /// Sessions under `socket_dir`, started with `hm start` (the
    /// launcher's `hm`, given the same socket dir and config file).
    pub fn new(socket_dir: PathBuf, config: Option<PathBuf>) -> Sessions {
        let mut launcher = Launcher::new().socket_dir(&socket_dir);
        if let Some(c) = config {
            launcher = launcher.config(c);
        }
        Sessions {
            dir: SocketDir::new(socket_dir),
            launcher,
        }
    }

    /// Use this `hm` binary to start sessions.
    pub fn with_hm(mut self, hm: PathBuf) -> Sessions {
        self.launcher = self.launcher.hm(hm);
        self
    }

    /// Connect to a running session.
    pub async fn connect(&self, id: &str) -> Result<Client, String> {
        self.dir
            .connect(
                id,
                ClientBuilder::new().name("hm-discord").deadline(DEADLINE),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Whether a supervisor holds session `id` (it runs, answering or not).
    pub fn is_live(&self, id: &str) -> bool {
        self.dir.files(id).is_ok_and(|f| f.is_live())
    }

    /// Ids of running sessions starting with `prefix` (for autocomplete).
    pub fn running_ids(&self, prefix: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .dir
            .running()
            .unwrap_or_default()
            .into_iter()
            .filter(|id| id.starts_with(prefix))
            .collect();
        ids.sort();
        ids
    }

    /// `/ls`: one line per session.
    pub async fn list(&self) -> String {
        let mut lines = Vec::new();
        let mut entries = match self.dir.list() {
            Ok(entries) => entries,
            Err(e) => return e.to_string(),
        };
        entries.sort_by(|a, b| a.files.id.cmp(&b.files.id));
        for e in entries {
            let id = &e.files.id;
            match &e.liveness {
                Liveness::Live(_) => match self.connect(id).await {
                    Ok(c) => {
                        let state = c
                            .status()
                            .await
                            .map(|s| s.state.name().to_string())
                            .unwrap_or_else(|_| "unreachable".into());
                        let cmd = c
                            .hello()
                            .map(|h| h.session.command.join(" "))
                            .unwrap_or_default();
                        lines.push(format!("{id}  {state}  {cmd}"));
                    }
                    Err(_) => lines.push(format!("{id}  unreachable")),
                },
                Liveness::Exited(rec) => lines.push(format!(
                    "{id}  exited (code {})  {}",
                    rec.code,
                    rec.command.join(" ")
                )),
                Liveness::Stale => lines.push(format!("{id}  stale")),
            }
        }
        if lines.is_empty() {
            "No active sessions".into()
        } else {
            lines.join("\n")
        }
    }

    /// `/status`.
    pub async fn status(&self, id: &str) -> Result<String, String> {
        let c = match self.connect(id).await {
            Ok(c) => c,
            Err(e) => return self.ended(id).ok_or(e),
        };
        let st = c.status().await.map_err(|e| e.to_string())?;
        let mut out = format!(
            "{id}: {} for {} s, pid {}, idle {} ms",
            st.state,
            st.state_ms / 1000,
            st.pid,
            st.idle_ms
        );
        if let Some(h) = c.hello() {
            out.push_str(&format!(
                "\ncommand: {}\ncwd: {}\nstarted: {}",
                h.session.command.join(" "),
                h.session.cwd,
                h.session.started_at
            ));
        }
        Ok(out)
    }

    /// How an ended session ended, from its exit record.
    fn ended(&self, id: &str) -> Option<String> {
        let e = self.dir.find(id).ok()?;
        match e.liveness {
            Liveness::Exited(rec) => Some(format!(
                "{id}: exited with exit code {}{}",
                rec.code,
                rec.signal
                    .map(|s| format!(" (signal {s})"))
                    .unwrap_or_default()
            )),
            _ => None,
        }
    }

    /// The screen of a session (or the final screen of an ended one).
    pub async fn screen(&self, id: &str) -> Result<Screen, String> {
        let c = match self.connect(id).await {
            Ok(c) => c,
            Err(e) => return self.final_screen(id).ok_or(e),
        };
        screen_of(&c).await
    }

    /// The final screen of an ended session, if its exit record kept one;
    /// also while its supervisor, the record written, still finishes.
    pub fn final_screen(&self, id: &str) -> Option<Screen> {
        let rec = self.dir.files(id).ok()?.exit_record().ok()?;
        let cols = rec.final_screen.as_ref().map_or(DEFAULT_COLS, |s| s.cols);
        let cursor = rec
            .final_screen
            .as_ref()
            .map(|s| (s.cursor.row, s.cursor.col));
        let above = rec
            .final_screen
            .and_then(|s| s.scrollback)
            .map(|rows| last_rows(rows, CONTEXT_ROWS))
            .unwrap_or_default();
        rec.screen.map(|text| Screen {
            ansi: text.clone(),
            text,
            cols,
            above,
            output_offset: 0,
            cursor,
        })
    }

    /// The exit code of ended session `id` (the one that started at
    /// `started_at`, when given) from its exit record, waiting up to `wait`
    /// for the record: a supervisor that died leaves it to its guardian,
    /// which ends the program's tree first.
    pub async fn recorded_exit(
        &self,
        id: &str,
        started_at: Option<&str>,
        wait: Duration,
    ) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let rec = self
                .dir
                .files(id)
                .ok()
                .and_then(|f| f.exit_record().ok())
                .filter(|r| started_at.is_none_or(|s| s == r.started_at));
            if let Some(rec) = rec {
                return Some(rec.code);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `/run`: start `command` with `sh -c` in a new session; its id and
    /// its supervisor's pid.
    pub async fn start(
        &self,
        command: &str,
        id: Option<&str>,
        cwd: Option<&str>,
    ) -> Result<(String, Option<i32>), String> {
        if command.trim().is_empty() {
            return Err("give a command".into());
        }
        if let Some(id) = id {
            heimdall_client::validate_id(id).map_err(|e| e.to_string())?;
        }
        let started = self
            .launcher
            .start(&StartOptions {
                id: id.map(String::from),
                command: vec!["sh".into(), "-c".into(), command.into()],
                cwd: cwd.map(PathBuf::from),
                ..StartOptions::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok((started.id, started.supervisor_pid))
    }

    /// `/send`: submit a line.
    pub async fn submit(&self, id: &str, text: &str) -> Result<String, String> {
        let c = self.connect(id).await?;
        let r = c.submit(text, None).await.map_err(|e| e.to_string())?;
        Ok(if r.exited {
            format!("typed into {id}, and then its program exited")
        } else if r.accepted {
            format!("submitted to {id}; the program reacted")
        } else if !r.read {
            format!(
                "typed into {id}, but its program has not read it yet (busy, or not reading input); it stays typed"
            )
        } else {
            format!("typed into {id}, but the program showed no reaction yet")
        })
    }

    /// `/keys`: named keys (`C-c Enter Up`), sent as one write.
    pub async fn keys(&self, id: &str, keys: &str) -> Result<String, String> {
        let names: Vec<&str> = keys.split_whitespace().collect();
        if names.is_empty() {
            return Err("give key names, e.g. `C-c` or `Up Enter`".into());
        }
        let c = self.connect(id).await?;
        let app_cursor = c
            .screen(ScreenRequest::default())
            .await
            .map(|s| s.application_cursor)
            .unwrap_or(false);
        let bytes = heimdall_protocol::keys::keys_to_bytes(&names, app_cursor)
            .map_err(|e| e.to_string())?;
        c.type_steps([bytes], Duration::ZERO)
            .await
            .map_err(|e| input_error(id, e))?;
        Ok(format!("sent {} to {id}", names.join(" ")))
    }

    /// Answer a waiting prompt: each step written on its own, a short gap
    /// apart (TUIs ignore an arrow and Enter that arrive in one read).
    /// Returns how many steps were typed (fewer when the first ones ended
    /// the program).
    pub async fn answer(&self, id: &str, steps: &[String]) -> Result<usize, String> {
        let c = self.connect(id).await?;
        let steps: Vec<Vec<u8>> = steps.iter().map(|s| s.clone().into_bytes()).collect();
        c.type_steps(steps, STEP_GAP)
            .await
            .map_err(|e| input_error(id, e))
    }

    /// `/interrupt`: SIGINT to the terminal's foreground job (what Ctrl-C does).
    pub async fn interrupt(&self, id: &str) -> Result<String, String> {
        let c = self.connect(id).await?;
        let r = c
            .signal(SignalSpec::Name("INT".into()), SignalTarget::Foreground)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("sent {} to the foreground job of {id}", r.signal))
    }

    /// `/kill`: end the session (SIGTERM, SIGKILL after the grace period)
    /// and wait for it to end.
    pub async fn kill(&self, id: &str) -> Result<String, String> {
        let c = self.connect(id).await?;
        c.kill().await.map_err(|e| e.to_string())?;
        match tokio::time::timeout(KILL_WAIT, c.closed()).await {
            Ok(Some(code)) => Ok(format!("{id} ended with exit code {code}")),
            Ok(None) => Ok(format!("{id} ended")),
            Err(_) => Ok(format!(
                "asked {id} to end; it is still running after {} s",
                KILL_WAIT.as_secs()
            )),
        }
    }
}

/// Why input did not reach session `id`'s program (after a program that
/// has exited: the exit code, and that the input was not typed).
fn input_error(id: &str, e: ClientError) -> String {
    format!("{id}: {e}")
}

/// The gap between the key steps of an answer.
const STEP_GAP: Duration = Duration::from_millis(300);

/// A connected session's screen, text and ANSI.
pub async fn screen_of(c: &Client) -> Result<Screen, String> {
    let text = c
        .screen(ScreenRequest {
            scrollback_lines: CONTEXT_ROWS,
            ..ScreenRequest::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let ansi = c
        .screen(ScreenRequest {
            format: ScreenFormat::Ansi,
            ..ScreenRequest::default()
        })
        .await
        .map(|s| s.lines)
        .unwrap_or_else(|_| text.lines.clone());
    Ok(Screen {
        text: text.lines,
        ansi,
        cols: text.cols,
        above: text.scrollback.unwrap_or_default(),
        output_offset: text.output_offset,
        cursor: Some((text.cursor.row, text.cursor.col)),
    })
}

/// The last `n` of `rows`.
fn last_rows(mut rows: Vec<String>, n: usize) -> Vec<String> {
    rows.drain(..rows.len().saturating_sub(n));
    rows
}
