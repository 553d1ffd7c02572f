//! What the terminal's foreground process is doing, from `/proc`: asleep
//! in read(2) on the terminal, asleep in poll/select (a TUI waiting for a
//! key), or something else (running, sleeping, waiting for a child or the
//! network). A screen that looks like a prompt while the program computes
//! is not a prompt.

use std::os::fd::RawFd;

/// The foreground process's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Asleep in read(2) on the terminal.
    Reading,
    /// Asleep in poll/select/epoll.
    Polling,
    /// Doing something else (what, for `hm explain`).
    Busy(String),
    /// `/proc` could not tell (why).
    Unknown(String),
}

impl Activity {
    /// For people.
    pub fn describe(&self) -> String {
        match self {
            Activity::Reading => "reading the terminal".to_string(),
            Activity::Polling => "waiting in poll/select".to_string(),
            Activity::Busy(what) => what.clone(),
            Activity::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn polls(nr: i64) -> bool {
    [
        libc::SYS_select,
        libc::SYS_poll,
        libc::SYS_epoll_wait,
        libc::SYS_pselect6,
        libc::SYS_ppoll,
        libc::SYS_epoll_pwait,
        libc::SYS_epoll_pwait2,
    ]
    .contains(&nr)
}

#[cfg(not(target_arch = "x86_64"))]
fn polls(nr: i64) -> bool {
    [
        libc::SYS_pselect6,
        libc::SYS_ppoll,
        libc::SYS_epoll_pwait,
        libc::SYS_epoll_pwait2,
    ]
    .contains(&nr)
}

/// What the foreground process group of the terminal whose master is
/// `master` is doing: reading if any of its processes reads the terminal,
/// else polling if any polls, else busy.
pub fn foreground(master: RawFd) -> Activity {
    // SAFETY: tcgetpgrp on a valid fd; failure returns -1.
    let pgrp = unsafe { libc::tcgetpgrp(master) };
    if pgrp <= 0 {
        return Activity::Unknown("no foreground process group".into());
    }
    let members = match group_members(pgrp) {
        Ok(m) if !m.is_empty() => m,
        Ok(_) => return Activity::Unknown(format!("process group {pgrp} is empty")),
        Err(e) => return Activity::Unknown(format!("/proc: {e}")),
    };
    let all: Vec<Activity> = members.into_iter().map(process).collect();
    for want in [Activity::Reading, Activity::Polling] {
        if all.contains(&want) {
            return want;
        }
    }
    all.into_iter()
        .find(|a| matches!(a, Activity::Busy(_)))
        .unwrap_or_else(|| Activity::Unknown(format!("process group {pgrp}")))
}

/// The processes of group `pgrp` (from each `/proc/PID/stat`).
fn group_members(pgrp: i32) -> std::io::Result<Vec<i32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command's closing parenthesis: state, ppid, pgrp.
        let group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<i32>().ok());
        if group == Some(pgrp) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// What process `pid` is doing.
pub fn process(pid: i32) -> Activity {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(e) => return Activity::Unknown(format!("/proc/{pid}/stat: {e}")),
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if state == Some('R') {
        return Activity::Busy(format!("process {pid} is running"));
    }
    let syscall = match std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
        Ok(s) => s,
        Err(e) => return Activity::Unknown(format!("/proc/{pid}/syscall: {e}")),
    };
    let mut fields = syscall.split_whitespace();
    let Some(nr) = fields.next().and_then(|n| n.parse::<i64>().ok()) else {
        return Activity::Busy(format!("process {pid} is running"));
    };
    if nr == libc::SYS_read {
        let fd = fields
            .next()
            .and_then(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16).ok());
        let target = fd.and_then(|fd| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok());
        return match target {
            Some(t) if t.starts_with("/dev/pts") || t.starts_with("/dev/tty") => Activity::Reading,
            Some(t) => Activity::Busy(format!("process {pid} reads {}", t.display())),
            None => Activity::Unknown(format!("process {pid} reads an unknown file")),
        };
    }
    if polls(nr) {
        return Activity::Polling;
    }
    Activity::Busy(format!("process {pid} is in system call {nr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_is_running() {
        let me = std::process::id() as i32;
        // The calling thread is the main thread only in some harness modes;
        // the process as a whole is at least not asleep in read(2).
        assert_ne!(process(me), Activity::Reading);
    }
}
