//! Finding the process that listens on a TCP port, from Linux `/proc`: the
//! listening socket's inode in `/proc/net/tcp` (and `tcp6`), then the process
//! holding `socket:[inode]` among its descriptors. Lets the cluster scenarios
//! sample each node's RSS and CPU without being told their pids. Parsing is
//! pure and unit-tested on sample text.

/// TCP state `LISTEN` in `/proc/net/tcp`.
const LISTEN: &str = "0A";

/// The inode of the socket listening on `port` in the text of
/// `/proc/net/tcp` or `/proc/net/tcp6`.
pub(crate) fn listening_inode(text: &str, port: u16) -> Option<u64> {
    let want = format!("{port:04X}");
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let local_port = fields.get(1)?.rsplit(':').next()?;
        if local_port != want || *fields.get(3)? != LISTEN {
            return None;
        }
        fields.get(9)?.parse().ok()
    })
}

/// The pid of a process that holds socket `inode`, scanning `/proc`.
fn holder_of(inode: u64) -> Option<u32> {
    let link = format!("socket:[{inode}]");
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let entry = entry.ok()?;
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let fds = std::fs::read_dir(entry.path().join("fd")).ok()?;
        fds.filter_map(Result::ok)
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == link.as_str()))
            .then_some(pid)
    })
}

/// The pid of the process listening on TCP `port`, if this user may see it.
pub(crate) fn listener_pid(port: u16) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|text| listening_inode(&text, port))
        .and_then(holder_of)
}

#[cfg(test)]
mod tests;
