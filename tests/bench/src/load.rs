//! The load generators and what is read from them: `wrk` against the app, `pgbench` for the
//! database-only references, a results-table row, and a process's peak memory.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};

/// One load-generator run, reduced to what the results table shows.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    pub command: String,
    /// Where the CPU went meanwhile (measured for the runs the results file breaks down).
    pub usage: Option<crate::cpu::Usage>,
}

fn to_ms(value: &str) -> f64 {
    let (number, unit) = value.split_at(
        value
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(value.len()),
    );
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

pub fn wrk(
    url: &str,
    connections: u32,
    seconds: u64,
    script: &Path,
    args: &[&str],
) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        // Slow answers are measured, not dropped as wrk's default 2 s timeouts.
        "--timeout",
        "10s",
        "-s",
    ])
    .arg(script)
    .arg(url);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    let shown = format!(
        "wrk -t2 -c{connections} -d{seconds}s --latency --timeout 10s -s {} {url}{}",
        Path::new("tests/bench")
            .join(script.file_name().unwrap_or_default())
            .display(),
        if args.is_empty() {
            String::new()
        } else {
            " -- <file/key>".into()
        }
    );
    let output = cmd.output().context("run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut load = Load {
        command: shown,
        ..Load::default()
    };
    for line in text.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["50%", v] => load.p50_ms = to_ms(v),
            ["99%", v] => load.p99_ms = to_ms(v),
            ["Requests/sec:", v] => load.per_second = v.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => load.non_2xx = n.parse().unwrap_or(0),
            [n, "requests", "in", ..] => load.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if load.requests == 0 {
        bail!(
            "wrk made no requests: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(load)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn pgbench(
    url: &str,
    clients: u32,
    seconds: u64,
    script: &str,
    dir: &Path,
    name: &str,
) -> anyhow::Result<Load> {
    let script_path = dir.join(format!("{name}.sql"));
    std::fs::write(&script_path, script)?;
    let prefix = dir.join(format!("{name}-log"));
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            &format!("-c{clients}"),
            "-j2",
            &format!("-T{seconds}"),
            "-l",
        ])
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg("-f")
        .arg(&script_path)
        .arg(url)
        .output()
        .context("run pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}-log")))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    latencies.push(us / 1000.0);
                }
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let per_second = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok(Load {
        requests: latencies.len() as u64,
        per_second,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        non_2xx: 0,
        usage: None,
        command: format!("pgbench -n -M prepared -c{clients} -j2 -T{seconds} -l -f {name}.sql"),
    })
}

pub fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub fn row(name: &str, load: &Load, reference: Option<&Load>) -> String {
    let mut line = format!(
        "| {name} | {:.0} | {:.2} | {:.2} | {} |",
        load.per_second, load.p50_ms, load.p99_ms, load.non_2xx
    );
    match reference {
        Some(r) => line.push_str(&format!(
            " {:.0} / {:.2} / {:.2} | {:.2} |",
            r.per_second,
            r.p50_ms,
            r.p99_ms,
            load.per_second / r.per_second
        )),
        None => line.push_str(" – | – |"),
    }
    line
}
