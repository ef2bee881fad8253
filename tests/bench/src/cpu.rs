//! CPU time of the processes under test, from `/proc`: web, worker and the PostgreSQL server
//! (the postmaster, its live backends, and the backends that have exited, which the kernel
//! adds to the postmaster's children's time), and of the whole machine, so that what the load
//! generator and the rest used shows too.

use sqlx::PgPool;

/// Seconds of CPU (user + system) used so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub web: f64,
    pub worker: f64,
    pub postgres: f64,
}

impl Cpu {
    pub fn total(&self) -> f64 {
        self.web + self.worker + self.postgres
    }

    /// What was used between `earlier` and `self`.
    pub fn since(&self, earlier: &Cpu) -> Cpu {
        Cpu {
            web: self.web - earlier.web,
            worker: self.worker - earlier.worker,
            postgres: self.postgres - earlier.postgres,
        }
    }

    /// Each figure divided by `n`.
    pub fn per(&self, n: f64) -> Cpu {
        Cpu {
            web: self.web / n,
            worker: self.worker / n,
            postgres: self.postgres / n,
        }
    }
}

fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime, stime, cutime, cstime of a process, in ticks (after the parenthesised name, which
/// may contain spaces).
fn times(pid: u32) -> Option<[f64; 4]> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    fields.try_into().ok()
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Where the processes are: the web and worker pids, and the postmaster's (`None` when the
/// server is not on this machine, or not visible from here).
#[derive(Debug, Clone)]
pub struct Processes {
    pub web: Vec<u32>,
    pub worker: Vec<u32>,
    pub postmaster: Option<u32>,
}

impl Processes {
    /// Finds the postmaster as the parent of a backend of `pool`.
    pub async fn find(pool: &PgPool, web: Vec<u32>, worker: Vec<u32>) -> Processes {
        let backend: Option<i32> = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await
            .ok();
        let postmaster = backend.and_then(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))
                .and_then(|p| p.trim().parse().ok())
        });
        Processes {
            web,
            worker,
            postmaster,
        }
    }

    /// The processes' and the machine's CPU now.
    pub fn snapshot(&self) -> Snapshot {
        let (busy, total) = machine();
        Snapshot {
            cpu: self.cpu(),
            busy,
            total,
        }
    }

    /// CPU used so far.
    pub fn cpu(&self) -> Cpu {
        let hz = ticks_per_second();
        let own = |pids: &[u32]| -> f64 {
            pids.iter()
                .filter_map(|p| times(*p))
                .map(|t| t[0] + t[1])
                .sum::<f64>()
                / hz
        };
        let postgres = self.postmaster.map_or(f64::NAN, |pm| {
            let server = times(pm).map_or(0.0, |t| t.iter().sum());
            let live: f64 = children(pm)
                .into_iter()
                .filter_map(times)
                .map(|t| t[0] + t[1])
                .sum();
            (server + live) / hz
        });
        Cpu {
            web: own(&self.web),
            worker: own(&self.worker),
            postgres,
        }
    }
}

/// Busy and total CPU seconds of the whole machine so far (every core; `/proc/stat`).
fn machine() -> (f64, f64) {
    let hz = ticks_per_second();
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let total: f64 = ticks.iter().take(8).sum();
    // idle and iowait
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    ((total - idle) / hz, total / hz)
}

/// The processes' and the machine's CPU at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    cpu: Cpu,
    busy: f64,
    total: f64,
}

/// Where the CPU went during a run, per request (or e-mail).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU seconds per request of web, worker and PostgreSQL.
    pub per_request: Cpu,
    /// CPU seconds per request of everything else: the load generator (wrk or pgbench), the
    /// benchmark itself with its SMTP receiver, the rest of the machine.
    pub rest: f64,
    /// The machine's busy share over the run (1.0: every core busy all the time).
    pub busy: f64,
}

impl Snapshot {
    /// What was used since `self`, divided by `requests`.
    pub fn usage(&self, now: &Snapshot, requests: f64) -> Usage {
        let cpu = now.cpu.since(&self.cpu);
        let busy = now.busy - self.busy;
        let requests = requests.max(1.0);
        Usage {
            per_request: cpu.per(requests),
            rest: (busy - cpu.total()).max(0.0) / requests,
            busy: busy / (now.total - self.total).max(1e-9),
        }
    }
}
