//! `azione-bench`: the reproducible benchmark. It starts the built `azione-web` and
//! `azione-worker` against a fresh database and an in-process SMTP server that counts what it
//! receives (and can be switched off or slowed to 2 s per message), drives load with `wrk`,
//! measures `pgbench` references on the same database, and writes a Markdown results file.
//!
//!     azione-bench [--smoke] [--profile release|debug] [--out FILE] [--seconds N]
//!
//! `--smoke` runs every phase for a moment with small data sets (CI keeps it working).
//! One module per phase: `booking`, `confirmation`, `checkin`, `email`; `report` writes the
//! results file.

mod booking;
mod checkin;
mod confirmation;
mod email;
mod load;
mod report;
mod system;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use uuid::Uuid;

use crate::{load::peak_rss_mib, system::System};

pub struct Options {
    smoke: bool,
    profile: String,
    out: PathBuf,
    seconds: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        smoke: false,
        profile: "release".into(),
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
    pub rows: Vec<String>,
    pub commands: Vec<String>,
}

impl Phase<'_> {
    /// A wrk script of this crate (`tests/bench/*.lua`).
    pub fn script(&self, name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let sys = System::start(&o.profile).await?;
    let scratch = std::env::temp_dir().join(format!("azione-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch)?;
    let mut phase = Phase {
        sys: &sys,
        smoke: o.smoke,
        seconds: o.seconds,
        queue_patience: Duration::from_secs(if o.smoke { 120 } else { 1800 }),
        scratch: &scratch,
        rows: Vec::new(),
        commands: Vec::new(),
    };

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

    let figures = report::Figures {
        load_before,
        load_after: std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
        booking,
        delivery,
        confirmation,
        checkin,
        email,
        web_rss: peak_rss_mib(sys.web.pid()),
        worker_rss: peak_rss_mib(sys.worker.pid()),
    };
    let out = report::markdown(&o, &phase, &figures);
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&o.out, &out)?;
    println!("{out}");
    let _ = std::fs::remove_dir_all(&scratch);
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
