//! Which workflow job a connection comes from, for a runner that hands every
//! job the same `github.token` (nektos/act): GitHub mints one token per job
//! carrying that job's `permissions:`, act has only one. The fake finds the
//! local process at the other end of the connection (Linux: the socket's
//! inode in `/proc/net/tcp*`, then the process holding it) and reads the
//! `GITHUB_WORKFLOW` and `GITHUB_JOB` the runner gave it, so it can answer
//! as if that job's own token had been sent.

use std::net::SocketAddr;

/// A job as the runner names it: the workflow's `name:` and the job id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId {
    pub workflow: String,
    pub job: String,
}

/// The inode of the client's socket of the connection from `peer` to the
/// fake listening on `local`; `None` when it cannot be told (another OS, or
/// a connection from elsewhere). Cheap: callers cache the job by it.
pub fn inode_of(peer: SocketAddr, local: SocketAddr) -> Option<u64> {
    if !peer.ip().is_loopback() {
        return None;
    }
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find_map(|table| socket_inode(&table, peer.port(), local.port()))
}

/// The job of the process holding socket `inode`; `None` when the process
/// is gone or was started outside a workflow job.
pub fn job_holding(inode: u64) -> Option<JobId> {
    let pid = process_holding(inode)?;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    job_from_environ(&environ)
}

/// The inode of the socket whose local port is `port` and whose remote
/// port is `remote`, from a `/proc/net/tcp` table.
fn socket_inode(table: &str, port: u16, remote: u16) -> Option<u64> {
    let port_of = |addr: &str| {
        addr.rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, rem, inode) = (cols.get(1)?, cols.get(2)?, cols.get(9)?);
        (port_of(local)? == port && port_of(rem)? == remote)
            .then(|| inode.parse().ok())
            .flatten()
            .filter(|i| *i != 0)
    })
}

fn process_holding(inode: u64) -> Option<u32> {
    let wanted = format!("socket:[{inode}]");
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

fn job_from_environ(environ: &[u8]) -> Option<JobId> {
    let mut workflow = None;
    let mut job = None;
    for var in environ.split(|b| *b == 0) {
        let var = String::from_utf8_lossy(var);
        if let Some(v) = var.strip_prefix("GITHUB_WORKFLOW=") {
            workflow = Some(v.to_owned());
        } else if let Some(v) = var.strip_prefix("GITHUB_JOB=") {
            job = Some(v.to_owned());
        }
    }
    Some(JobId {
        workflow: workflow?,
        job: job?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_found_by_both_ports() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4242 1\n   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 777 1\n";
        assert_eq!(socket_inode(table, 0xD431, 0x1F90), Some(777));
        assert_eq!(socket_inode(table, 0x1F90, 0xD431), Some(4242));
        assert_eq!(socket_inode(table, 1, 2), None);
    }

    #[test]
    fn the_job_comes_from_the_runner_variables() {
        let env = b"PATH=/bin\0GITHUB_JOB=apply-dev\0GITHUB_WORKFLOW=phasegate promote\0";
        assert_eq!(
            job_from_environ(env),
            Some(JobId {
                workflow: "phasegate promote".into(),
                job: "apply-dev".into()
            })
        );
        assert_eq!(job_from_environ(b"GITHUB_JOB=x\0"), None);
    }

    #[test]
    fn a_connection_of_this_process_is_traced_to_its_environment() {
        // This test process is the peer: without GITHUB_JOB it names no job,
        // but the socket and process are found (the path the fake relies on).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let peer = client.local_addr().unwrap();
        let _accepted = listener.accept().unwrap();
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let inode = socket_inode(&table, peer.port(), local.port()).expect("socket listed");
        assert_eq!(process_holding(inode), Some(std::process::id()));
    }
}
