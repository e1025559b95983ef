//! CPU time and RSS of a process from Linux `/proc`: utime + stime from
//! `/proc/<pid>/stat` (all threads, in clock ticks), `VmRSS` from
//! `/proc/<pid>/status`, and the voluntary context switches (each one a
//! thread going to sleep, so each a wake-up later) summed over
//! `/proc/<pid>/task/*/status`. Parsing is pure and unit-tested on sample
//! text.

use tokio::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times. `USER_HZ` is 100 on
/// every Linux ABI in use (the kernel converts its own HZ to it), which gives
/// the CPU figures a 10 ms resolution; runs of a few seconds keep that small.
pub(crate) const TICKS_PER_SEC: u64 = 100;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcSample {
    /// utime + stime, in microseconds.
    pub cpu_us: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
    /// Voluntary context switches of its threads (living ones), if read.
    pub sleeps: Option<u64>,
    /// When the sample was taken.
    pub at: Instant,
}

/// (utime, stime) in clock ticks from the text of `/proc/<pid>/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces or
/// parentheses, so fields are counted after the last `)`.
pub(crate) fn parse_stat_ticks(text: &str) -> Option<(u64, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After ')' come field 3 (state) … ; utime is field 14, stime field 15.
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// `VmRSS` in bytes from the text of `/proc/<pid>/status`.
pub(crate) fn parse_status_rss(text: &str) -> Option<u64> {
    kib_field(text, "VmRSS:")
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let mut parts = line[name.len()..].split_ascii_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// `voluntary_ctxt_switches` from the text of a `/proc/…/status`.
pub(crate) fn parse_status_sleeps(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
    line["voluntary_ctxt_switches:".len()..].trim().parse().ok()
}

/// The soft `Max open files` limit from the text of `/proc/<pid>/limits`.
pub(crate) fn parse_fd_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reads a sample of process `pid`.
pub(crate) fn sample(pid: u32) -> std::io::Result<ProcSample> {
    read(&pid.to_string())
}

/// Reads a sample of the `/proc` entry `entry` (`<pid>` or
/// `<pid>/task/<tid>`, one thread).
pub(crate) fn sample_entry(entry: &str) -> std::io::Result<ProcSample> {
    read(entry)
}

/// Reads a sample of this process (the bench itself).
pub(crate) fn own_sample() -> Option<ProcSample> {
    read("self").ok()
}

/// This process's soft limit on open files.
pub(crate) fn own_fd_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| parse_fd_limit(&t))
}

fn read(pid: &str) -> std::io::Result<ProcSample> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (utime, stime) = parse_stat_ticks(&stat).ok_or_else(|| invalid("unparsable stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_bytes = parse_status_rss(&status).ok_or_else(|| invalid("no VmRSS in status"))?;
    let sleeps = if pid.contains("/task/") {
        parse_status_sleeps(&status)
    } else {
        sleeps_of_threads(pid)
    };
    Ok(ProcSample {
        cpu_us: (utime + stime) * (1_000_000 / TICKS_PER_SEC),
        rss_bytes,
        sleeps,
        at,
    })
}

/// Voluntary context switches summed over the process's living threads.
fn sleeps_of_threads(pid: &str) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let status = std::fs::read_to_string(task.ok()?.path().join("status")).ok();
        // A thread that ended between the listing and the read counts 0.
        total += status.and_then(|s| parse_status_sleeps(&s)).unwrap_or(0);
    }
    Some(total)
}

/// Voluntary context switches between two samples, if both have them.
pub(crate) fn sleeps_delta(before: &ProcSample, after: &ProcSample) -> Option<u64> {
    Some(after.sleeps?.saturating_sub(before.sleeps?))
}

/// CPU microseconds spent between two samples.
pub(crate) fn cpu_delta_us(before: &ProcSample, after: &ProcSample) -> u64 {
    after.cpu_us.saturating_sub(before.cpu_us)
}

/// Share of one core used between two samples (1.0 = one core busy).
pub(crate) fn cores_used(before: &ProcSample, after: &ProcSample) -> f64 {
    let wall = after.at.saturating_duration_since(before.at).as_secs_f64();
    if wall <= 0.0 {
        0.0
    } else {
        cpu_delta_us(before, after) as f64 / 1e6 / wall
    }
}

#[cfg(test)]
mod tests;
