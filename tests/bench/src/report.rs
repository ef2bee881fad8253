//! The results file: the figures table, the e-mail pipeline, memory, the commands run and the
//! targets with their verdicts.

use crate::{
    Options, Phase,
    booking::{Booking, Delivery},
    confirmation::Confirmation,
    email::Email,
    load::Load,
};

/// Everything the results file shows.
pub struct Figures {
    pub load_before: String,
    pub load_after: String,
    pub booking: Booking,
    pub delivery: Delivery,
    pub confirmation: Confirmation,
    pub checkin: Load,
    pub email: Email,
    pub web_rss: f64,
    pub worker_rss: f64,
}

/// The results file's Markdown.
pub fn markdown(o: &Options, phase: &Phase<'_>, f: &Figures) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Benchmark results\n\n{}\n\n- machine: {} cores ({}), load average before `{}` after `{}`\n- binaries: `target/{}`; web and worker with `RUST_LOG=warn`, `DATABASE_MAX_CONNECTIONS=20`, `WORKER_CONCURRENCY={}`\n- each load phase: {} s, wrk 2 threads; references: pgbench on the same database and machine, same concurrency\n- command: `cargo run --release -p bench --bin azione-bench{}`\n\n",
        if o.smoke { "Smoke run (a moment per phase): the figures only show the benchmark works." } else { "Full run." },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())).unwrap_or_default(),
        f.load_before.trim(),
        f.load_after.trim(),
        o.profile,
        std::env::var("WORKER_CONCURRENCY").unwrap_or_else(|_| "16".into()),
        o.seconds,
        if o.smoke { " -- --smoke" } else { "" },
    ));
    out.push_str("| figure | req/s | p50 ms | p99 ms | non-2xx | reference req/s / p50 / p99 | ratio |\n|---|---|---|---|---|---|---|\n");
    for r in &phase.rows {
        out.push_str(r);
        out.push('\n');
    }
    let e = &f.email;
    out.push_str(&format!(
        "\n## E-mail pipeline\n\n- booking commit (the 202 answer) to confirmation e-mail accepted by SMTP, {} bookings 20 ms apart: p50 {:.1} ms, p99 {:.1} ms\n- confirmation e-mails per second, one worker: {:.0} ({} queued at once)\n- QR ticket e-mails per second, one worker: {:.0} ({} queued at once)\n- after the SMTP outage and slow phases: {} bookings accepted, {} confirmation e-mails sent, {} jobs failed or killed\n\n## Memory\n\n- peak resident memory (VmHWM): web {:.1} MiB, worker {:.1} MiB\n\n## Commands\n\n",
        e.samples,
        e.p50_ms,
        e.p99_ms,
        e.confirmations_per_second,
        e.rate_n,
        e.tickets_per_second,
        e.rate_n,
        f.delivery.booked,
        f.delivery.sent,
        f.delivery.failed,
        f.web_rss,
        f.worker_rss,
    ));
    for c in &phase.commands {
        out.push_str(&format!("    {c}\n"));
    }
    out.push_str(&targets(f));
    out.push_str("\nBooking p99 by SMTP state (ms):\n\n");
    for (c, label, p99) in &f.booking.p99 {
        out.push_str(&format!("- c={c}, {label}: {p99:.2}\n"));
    }
    out
}

/// The targets table.
fn targets(f: &Figures) -> String {
    let p99 = &f.booking.p99;
    let healthy32 = p99
        .iter()
        .find(|(c, l, _)| *c == 32 && *l == "SMTP healthy")
        .map_or(f64::NAN, |b| b.2);
    let worst32 = p99
        .iter()
        .filter(|(c, l, _)| *c == 32 && *l != "SMTP healthy")
        .map(|b| b.2)
        .fold(f64::NAN, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    let c = &f.confirmation;
    format!(
        "\n## Targets\n\n| target | measured | verdict |\n|---|---|---|\n\
         | booking throughput ≥ 0.7 × pgbench at c=32 | {:.2} × | {} |\n\
         | booking p99 with SMTP down or slow ≤ 1.1 × healthy (c=32) | {:.2} × | {} |\n\
         | hot-performance confirmations ≥ 0.7 × pgbench (worker paused: {:.2} ×) | {:.2} × | {} |\n\
         | check-in p99 ≤ 5 ms at c=8 | {:.2} ms | {} |\n\
         | commit-to-e-mail p50 ≤ 50 ms | {:.1} ms | {} |\n\
         | ≥ 300 QR ticket e-mails/s per worker | {:.0}/s | {} |\n\
         | web resident memory ≤ 64 MiB | {:.1} MiB | {} |\n",
        f.booking.ratio32,
        verdict(f.booking.ratio32 >= 0.7),
        worst32 / healthy32,
        verdict(worst32 <= 1.1 * healthy32),
        c.paused.per_second / c.reference.per_second,
        c.running.per_second / c.reference.per_second,
        verdict(c.running.per_second >= 0.7 * c.reference.per_second),
        f.checkin.p99_ms,
        verdict(f.checkin.p99_ms <= 5.0),
        f.email.p50_ms,
        verdict(f.email.p50_ms <= 50.0),
        f.email.tickets_per_second,
        verdict(f.email.tickets_per_second >= 300.0),
        f.web_rss,
        verdict(f.web_rss <= 64.0),
    )
}
