//! What /proc says about the server and this process: CPU time over a window, memory, the
//! descriptor limit.

use std::time::Instant;

use crate::report::Report;

/// User plus system CPU ticks of a process (`self` or a pid).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A `Vm...:` line of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resident memory of a process now (VmRSS), in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// The peak resident memory of a process so far (VmHWM), in KiB.
pub(crate) fn hwm_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// The soft and hard limits of open descriptors of this process.
pub(crate) fn open_files_limit() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let l = s.lines().find(|l| l.starts_with("Max open files"))?;
    let f: Vec<&str> = l["Max open files".len()..].split_whitespace().collect();
    let p = |x: &str| {
        if x == "unlimited" {
            Some(u64::MAX)
        } else {
            x.parse().ok()
        }
    };
    Some((p(f.first()?)?, p(f.get(1)?)?))
}

/// CPU use of the server (all its nodes) and of this process over a window, in percent of one
/// core.
#[derive(Debug)]
pub(crate) struct CpuWindow {
    t: Instant,
    server: Vec<(String, u64)>,
    me: u64,
}

impl CpuWindow {
    /// Starts the window now, for the server process `server_pid`.
    pub(crate) fn start(server_pid: Option<u32>) -> Self {
        Self::start_all(server_pid.into_iter())
    }

    /// Starts the window now, for every process of `pids` (the nodes of a cluster): their CPU
    /// use is summed.
    pub(crate) fn start_all(pids: impl Iterator<Item = u32>) -> Self {
        CpuWindow {
            t: Instant::now(),
            server: pids
                .map(|p| p.to_string())
                .filter_map(|p| cpu_ticks(&p).map(|t| (p, t)))
                .collect(),
            me: cpu_ticks("self").unwrap_or(0),
        }
    }

    /// Ends the window: puts `server_cpu_pct`, `bench_cpu_pct` and `loadavg_1m`.
    pub(crate) fn finish(&self, r: &mut Report) {
        let secs = self.t.elapsed().as_secs_f64();
        // Linux reports in USER_HZ, 100 on every common configuration.
        let used: Option<u64> = self
            .server
            .iter()
            .map(|(p, t0)| cpu_ticks(p).map(|t1| t1 - t0))
            .sum();
        if let (Some(used), false) = (used, self.server.is_empty()) {
            r.put("server_cpu_pct", used as f64 / secs);
        }
        if let Some(t1) = cpu_ticks("self") {
            r.put("bench_cpu_pct", (t1 - self.me) as f64 / secs);
        }
        // The machine is shared: say how busy it was.
        if let Some(l) = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        {
            r.put("loadavg_1m", l);
        }
    }
}
