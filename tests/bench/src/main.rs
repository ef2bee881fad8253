//! `azione-bench`: the reproducible benchmark. It starts the built `azione-web` and
//! `azione-worker` against a fresh database and an in-process SMTP server that counts what it
//! receives (and can be switched off or slowed to 2 s per message), drives load with `wrk`,
//! measures `pgbench` references on the same database, and writes a Markdown results file.
//!
//!     azione-bench [--smoke] [--profile release|debug] [--bin-dir DIR] [--out FILE]
//!                  [--seconds N] [--only PHASE,...]
//!
//! `--smoke` runs every phase for a moment with small data sets (CI keeps it working).
//! `--bin-dir` runs other binaries (an earlier build, to compare); `--only` runs some phases
//! and prints their figures instead of writing the results file.
//! One module per phase: `booking`, `confirmation`, `checkin`, `email`, `lifecycle` (CPU per
//! reservation), `relay` (Postfix), `pair` (two of each behind nginx), `faults`; `report`
//! writes the results file, keeping its hand-written profile section.

mod booking;
mod checkin;
mod confirmation;
mod cpu;
mod dns;
mod email;
mod faults;
mod lifecycle;
mod load;
mod pair;
mod relay;
mod report;
mod system;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use uuid::Uuid;

use crate::{
    load::{Load, peak_rss_mib},
    system::System,
};

pub struct Options {
    smoke: bool,
    profile: String,
    bin_dir: Option<String>,
    out: PathBuf,
    seconds: u64,
    only: Option<Vec<String>>,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        smoke: false,
        profile: "release".into(),
        bin_dir: None,
        only: None,
        out: PathBuf::from("tests/bench/RESULTS.md"),
        seconds: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => {
                o.smoke = true;
                o.seconds = 1;
                o.out = PathBuf::from("target/bench-smoke.md");
            }
            "--profile" => o.profile = args.next().context("--profile needs a value")?,
            "--bin-dir" => o.bin_dir = Some(args.next().context("--bin-dir needs a value")?),
            "--only" => {
                let list = args.next().context("--only needs a list of phases")?;
                o.only = Some(list.split(',').map(str::to_owned).collect());
            }
            "--out" => o.out = PathBuf::from(args.next().context("--out needs a value")?),
            "--seconds" => o.seconds = args.next().context("--seconds needs a value")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

/// What every phase works with, and the table rows and commands they add.
pub struct Phase<'a> {
    pub sys: &'a System,
    pub smoke: bool,
    /// Length of each load run.
    pub seconds: u64,
    /// How long to wait for the queue to drain between phases.
    pub queue_patience: Duration,
    /// A scratch folder for token files and pgbench scripts and logs.
    pub scratch: &'a Path,
    /// The web, worker and PostgreSQL processes, whose CPU is measured.
    pub processes: cpu::Processes,
    pub rows: Vec<String>,
    pub commands: Vec<String>,
}

impl Phase<'_> {
    /// A wrk script of this crate (`tests/bench/*.lua`).
    pub fn script(&self, name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }

    /// Runs a load on a settled database and records where the CPU went meanwhile, per
    /// request.
    pub async fn measured(
        &self,
        run: impl FnOnce() -> anyhow::Result<Load>,
    ) -> anyhow::Result<Load> {
        self.settle().await?;
        let before = self.processes.snapshot();
        let mut load = run()?;
        load.usage = Some(before.usage(&self.processes.snapshot(), load.requests as f64));
        Ok(load)
    }

    /// Vacuums and analyses the database, so that a run and its reference start alike: neither
    /// pays for an autovacuum that the seeding or the other run started. (Without it a check-in
    /// run measured PostgreSQL at 0.46 ms per check-in and its reference, right after, at
    /// 0.24.) No checkpoint: one before each run made the next seconds' first writes of every
    /// page full-page images, and a whole core went to writing them back.
    async fn settle(&self) -> anyhow::Result<()> {
        sqlx::query("VACUUM ANALYZE")
            .execute(&self.sys.db.pool)
            .await
            .context("VACUUM ANALYZE before a measured run")?;
        Ok(())
    }

    /// The path of one of the binaries under test.
    pub fn bin(&self, name: &str) -> String {
        format!("{}/{name}", self.sys.bin_dir)
    }
}

/// Runs only the phases named with `--only` and prints what they measured.
async fn run_only(phase: &mut Phase<'_>, only: &[String]) -> anyhow::Result<()> {
    for name in only {
        eprintln!("bench: {name}");
        match name.as_str() {
            "booking" => println!("{:#?}", booking::run(phase).await?),
            "confirmation" => println!("{:#?}", confirmation::run(phase).await?),
            "checkin" => println!("{:#?}", checkin::run(phase).await?),
            "email" => println!("{:#?}", email::run(phase).await?),
            "lifecycle" => println!("{:#?}", lifecycle::run(phase).await?),
            "relay" => println!("{:#?}", relay::run(phase).await?),
            "pair" => println!("{:#?}", pair::run(phase).await?),
            "faults" => println!("{:#?}", faults::run(phase).await?),
            other => {
                bail!(
                    "--only knows booking, confirmation, checkin, email, lifecycle, relay, pair \
                     and faults, not {other}"
                )
            }
        }
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let bin_dir = o.bin_dir.clone().unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
        format!("{target}/{}", o.profile)
    });
    let sys = System::start(&bin_dir).await?;
    let scratch = std::env::temp_dir().join(format!("azione-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch)?;
    let mut phase = Phase {
        sys: &sys,
        smoke: o.smoke,
        seconds: o.seconds,
        queue_patience: Duration::from_secs(if o.smoke { 120 } else { 1800 }),
        scratch: &scratch,
        processes: cpu::Processes::find(&sys.db.pool, vec![sys.web.pid()], vec![sys.worker.pid()])
            .await,
        rows: Vec::new(),
        commands: Vec::new(),
    };

    if let Some(only) = &o.only {
        return run_only(&mut phase, only).await;
    }
    eprintln!("bench: Booking");
    let booking = booking::run(&mut phase).await?;
    eprintln!("bench: No e-mail lost");
    let delivery = booking::no_email_lost(&mut phase, &booking).await?;
    eprintln!("bench: Confirmations contending");
    let confirmation = confirmation::run(&mut phase).await?;
    eprintln!("bench: Check-in");
    let checkin = checkin::run(&mut phase).await?;
    eprintln!("bench: The e-mail pipeline");
    let email = email::run(&mut phase).await?;
    eprintln!("bench: Cost per reservation");
    let lifecycle = lifecycle::run(&mut phase).await?;
    eprintln!("bench: A real mail relay (Postfix)");
    let relay = relay::run(&mut phase).await?;
    eprintln!("bench: Two of each behind nginx");
    let pair = pair::run(&mut phase).await?;
    eprintln!("bench: Faults");
    let faults = faults::run(&mut phase).await?;

    let figures = report::Figures {
        load_before,
        load_after: std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
        booking,
        delivery,
        confirmation,
        checkin,
        email,
        lifecycle,
        relay,
        pair,
        faults,
        web_rss: peak_rss_mib(sys.web.pid()),
        worker_rss: peak_rss_mib(sys.worker.pid()),
    };
    let mut out = report::markdown(&o, &phase, &figures);
    // The profile section below the figures is written by hand: keep it.
    if let Some(kept) = std::fs::read_to_string(&o.out).ok().and_then(|old| {
        old.find(report::PROFILE_HEADING)
            .map(|at| old[at..].to_owned())
    }) {
        out.push('\n');
        out.push_str(&kept);
    }
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&o.out, &out)?;
    println!("{out}");
    let _ = std::fs::remove_dir_all(&scratch);
    let p = &figures.pair;
    if p.lost != 0 || p.sent_twice != 0 {
        bail!(
            "two of each: {} bookings, {} without a confirmation e-mail, {} with two or more",
            p.booked,
            p.lost,
            p.sent_twice
        );
    }
    let d = &figures.delivery;
    if d.booked != d.sent || d.failed != 0 {
        bail!(
            "e-mails were lost: {} bookings, {} confirmations sent, {} failed jobs",
            d.booked,
            d.sent,
            d.failed
        );
    }
    Ok(())
}
