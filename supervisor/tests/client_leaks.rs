//! Ten sessions driven at once, from one task and from ten, with every
//! kind of call given up at random points (a timeout, a `select!`, a
//! future dropped, a task aborted) and connections dropped with calls and
//! streams in flight: afterwards nothing is left open, here (file
//! descriptors, tasks) or in the supervisors (connections), and every
//! session still answers. (One test in this file: it counts the process's
//! file descriptors.)

mod common;

use std::time::Duration;

use common::{Env, DEADLINE};
use heimdall_client::{
    Client, ClientBuilder, RegexSource, ScreenRequest, SignalSpec, SignalTarget, WaitCondition,
};

const SESSIONS: usize = 10;
const ROUNDS: u64 = 4;

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One call of kind `kind`, its answer ignored.
async fn call(c: &Client, kind: u64) {
    let never = WaitCondition::Regex {
        pattern: "never-matches".into(),
        source: RegexSource::Output,
    };
    match kind % 9 {
        0 => drop(c.status().await),
        1 => drop(
            c.screen(ScreenRequest {
                redraw: true,
                scrollback_lines: 50,
                ..ScreenRequest::default()
            })
            .await,
        ),
        2 => drop(c.wait(never, None).await),
        3 => drop(
            c.wait(WaitCondition::Idle { idle_ms: 50 }, Some(5_000))
                .await,
        ),
        4 => drop(c.submit(": line", Some(2_000)).await),
        5 => drop(
            c.signal(SignalSpec::Name("URG".into()), SignalTarget::Group)
                .await,
        ),
        6 => {
            if let Ok(mut out) = c.output_replay().await {
                // A slow reader: one item, then gone.
                drop(out.next().await);
            }
        }
        7 => {
            if let Ok(mut events) = c.events().await {
                drop(tokio::time::timeout(Duration::from_millis(20), events.next()).await);
            }
        }
        _ => drop(c.explain().await),
    }
}

/// Calls on `c` given up at random points, some in tasks aborted; the
/// tasks not aborted yet.
async fn rough_round(c: &Client, rng: &mut Rng) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let kind = rng.next(9);
        match rng.next(4) {
            0 => {
                let wait = Duration::from_micros(rng.next(20_000));
                drop(tokio::time::timeout(wait, call(c, kind)).await);
            }
            1 => {
                let yields = rng.next(5);
                tokio::select! {
                    () = call(c, kind) => {}
                    () = async { for _ in 0..yields { tokio::task::yield_now().await } } => {}
                }
            }
            2 => {
                let c = c.clone();
                tasks.push(tokio::spawn(async move { call(&c, kind).await }));
            }
            _ => drop(futures_util::FutureExt::now_or_never(call(c, kind))),
        }
    }
    for t in &tasks {
        if rng.next(2) == 0 {
            t.abort();
        }
    }
    tasks
}

/// Wait for task `t` to end, by itself or aborted.
async fn join(t: tokio::task::JoinHandle<()>) {
    let r = tokio::time::timeout(DEADLINE, t)
        .await
        .expect("a task hangs");
    assert!(
        r.is_ok() || r.as_ref().is_err_and(|e| e.is_cancelled()),
        "{r:?}"
    );
}

/// Abort what is left of `tasks` (a call in flight holds its connection).
async fn abort_all(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        t.abort();
        join(t).await;
    }
}

async fn connect(sock: std::path::PathBuf) -> Client {
    ClientBuilder::new()
        .name("rough")
        .deadline(DEADLINE)
        .connect(sock)
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_given_up_everywhere_leave_nothing_open() {
    let env = Env::new();
    let ids: Vec<String> = (0..SESSIONS).map(|n| format!("r{n}")).collect();
    for id in &ids {
        env.launch(id, &["sh"]).await;
    }
    let sups: Vec<u32> = ids.iter().map(|id| env.pids(id).0 as u32).collect();
    // Each supervisor's descriptors with no client connected.
    let sup_fds: Vec<usize> = sups.iter().map(|&p| fds(p)).collect();
    let me = std::process::id();
    let metrics = tokio::runtime::Handle::current().metrics();
    let base_fds = fds(me);
    let base_tasks = metrics.num_alive_tasks();
    for round in 0..ROUNDS {
        // From one task: ten connections, rough calls on each in turn.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ round);
        let mut clients = Vec::new();
        for id in &ids {
            clients.push(connect(env.sock(id)).await);
        }
        let mut left = Vec::new();
        for c in &clients {
            left.extend(rough_round(c, &mut rng).await);
        }
        drop(clients);
        abort_all(left).await;
        // From ten tasks, one per session, some aborted part-way.
        let tasks: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let sock = env.sock(id);
                let id = id.clone();
                let seed = 0xD1B5_4A32_D192_ED03 ^ (round << 8) ^ n as u64;
                tokio::spawn(async move {
                    let c = connect(sock).await;
                    let mut rng = Rng(seed);
                    for _ in 0..3 {
                        let left = rough_round(&c, &mut rng).await;
                        abort_all(left).await;
                        // The connection goes on, each answer its own.
                        let (hello, screen, status) = tokio::join!(
                            c.refresh(),
                            c.screen(ScreenRequest::default()),
                            c.status()
                        );
                        assert_eq!(hello.expect("hello").session.id, id);
                        assert!(screen.expect("screen").redraw.is_none());
                        assert!(status.expect("status").alive);
                    }
                })
            })
            .collect();
        for (n, t) in tasks.iter().enumerate() {
            if (n as u64 + round) % 3 == 0 {
                tokio::task::yield_now().await;
                t.abort();
            }
        }
        for t in tasks {
            join(t).await;
        }
    }
    // Every session still answers, each call with its own answer.
    for id in &ids {
        let c = connect(env.sock(id)).await;
        assert_eq!(c.refresh().await.expect("hello").session.id, *id);
        let mark = format!("still-{id}");
        c.submit(&format!("echo {mark}"), Some(5_000))
            .await
            .expect("submit");
        let w = c
            .wait(
                WaitCondition::Regex {
                    pattern: format!("(?m)^{mark}$"),
                    source: RegexSource::Screen,
                },
                Some(20_000),
            )
            .await
            .expect("wait");
        assert!(
            matches!(w, heimdall_client::WaitResult::Regex { .. }),
            "{id}: {w:?}"
        );
    }
    // Nothing of ours is left: descriptors, tasks, the supervisors'
    // connections.
    let settled = tokio::time::timeout(DEADLINE, async {
        loop {
            let now = (
                fds(me),
                metrics.num_alive_tasks(),
                sups.iter().map(|&p| fds(p)).collect::<Vec<_>>(),
            );
            if now == (base_fds, base_tasks, sup_fds.clone()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        settled.is_ok(),
        "left open: fds {} (was {base_fds}), tasks {} (was {base_tasks}), supervisors' fds {:?} (were {sup_fds:?})",
        fds(me),
        metrics.num_alive_tasks(),
        sups.iter().map(|&p| fds(p)).collect::<Vec<_>>()
    );
    let ls = env.ok(&["ls", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&ls).expect("ls json");
    assert_eq!(listed.as_array().map(Vec::len), Some(SESSIONS), "{ls}");
}
