//! The results file: the figures table, the e-mail pipeline, memory, the commands run and the
//! targets with their verdicts.

use crate::{
    Options, Phase,
    booking::{Booking, Delivery},
    checkin::Checkin,
    confirmation::Confirmation,
    email::Email,
    faults::Faults,
    lifecycle::Lifecycle,
    pair::Pair,
    relay::Relay,
};

/// The heading of the hand-written profile section, which a new run keeps.
pub const PROFILE_HEADING: &str = "## Profile";

/// Everything the results file shows.
pub struct Figures {
    pub load_before: String,
    pub load_after: String,
    pub booking: Booking,
    pub delivery: Delivery,
    pub confirmation: Confirmation,
    pub checkin: Checkin,
    pub email: Email,
    pub lifecycle: Lifecycle,
    pub relay: Option<Relay>,
    pub pair: Pair,
    pub faults: Faults,
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
        "\n## E-mail pipeline\n\n- booking commit (the 202 answer) to confirmation e-mail accepted by SMTP, {} bookings 20 ms apart: p50 {:.1} ms, p99 {:.1} ms\n- confirmation e-mails per second, one worker: {:.0} ({} queued at once)\n- QR ticket e-mails per second, one worker: {:.0} ({} queued at once)\n- after the SMTP outage and slow phases: {} bookings accepted, {} confirmation e-mails sent, {} jobs failed or killed\n\n## Memory\n\n- peak resident memory (VmHWM): web {:.1} MiB, worker {:.1} MiB\n\n",
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
    out.push_str(&extra_sections(f));
    out.push_str("## Commands\n\n");
    for c in &phase.commands {
        out.push_str(&format!("    {c}\n"));
    }
    out.push_str(&round_two(f));
    out.push_str(&cpu_split(f));
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
        "\n## Targets, first round\n\n| target | measured | verdict |\n|---|---|---|\n\
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
        f.checkin.load.p99_ms,
        verdict(f.checkin.load.p99_ms <= 5.0),
        f.email.p50_ms,
        verdict(f.email.p50_ms <= 50.0),
        f.email.tickets_per_second,
        verdict(f.email.tickets_per_second >= 300.0),
        f.web_rss,
        verdict(f.web_rss <= 64.0),
    )
}

/// The second round's targets (issue 15), each beside its reference.
fn round_two(f: &Figures) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    let b = &f.booking;
    let c = &f.checkin;
    let l = &f.lifecycle;
    let first = crate::lifecycle::FIRST_MS_PER_RESERVATION;
    let now_ms = l.per_reservation.total() * 1000.0;
    let mut out = String::from(
        "\n## Targets, second round\n\n| target | reference | measured | verdict |\n|---|---|---|---|\n",
    );
    let rows = [
        (
            "check-in, distinct tickets, c=8: ≥ 0.7 × pgbench".to_owned(),
            format!("pgbench {:.0}/s", c.reference.per_second),
            format!(
                "{:.0}/s = {:.2} ×",
                c.load.per_second,
                c.load.per_second / c.reference.per_second
            ),
            verdict(c.load.per_second >= 0.7 * c.reference.per_second),
        ),
        (
            "check-in p99 ≤ 1.5 × pgbench's p99".to_owned(),
            format!("pgbench p99 {:.2} ms", c.reference.p99_ms),
            format!(
                "{:.2} ms = {:.2} ×",
                c.load.p99_ms,
                c.load.p99_ms / c.reference.p99_ms
            ),
            verdict(c.load.p99_ms <= 1.5 * c.reference.p99_ms),
        ),
        (
            "booking, c=8, SMTP healthy: ≥ 0.7 × pgbench".to_owned(),
            format!("pgbench {:.0}/s", b.reference8.per_second),
            format!(
                "{:.0}/s = {:.2} ×",
                b.healthy8.per_second,
                b.healthy8.per_second / b.reference8.per_second
            ),
            verdict(b.healthy8.per_second >= 0.7 * b.reference8.per_second),
        ),
        (
            "booking p99 ≤ 3 × pgbench's p99 (c=8, SMTP healthy)".to_owned(),
            format!("pgbench p99 {:.2} ms", b.reference8.p99_ms),
            format!(
                "{:.2} ms = {:.2} ×",
                b.healthy8.p99_ms,
                b.healthy8.p99_ms / b.reference8.p99_ms
            ),
            verdict(b.healthy8.p99_ms <= 3.0 * b.reference8.p99_ms),
        ),
        (
            "booking ≥ 0.6 × pgbench's best at any concurrency".to_owned(),
            format!(
                "pgbench best {:.0}/s at c={}",
                b.best_reference.1.per_second, b.best_reference.0
            ),
            format!(
                "{:.0}/s (best healthy run) = {:.2} ×",
                b.best_healthy,
                b.best_healthy / b.best_reference.1.per_second
            ),
            verdict(b.best_healthy >= 0.6 * b.best_reference.1.per_second),
        ),
        (
            "confirmation e-mails per second, one worker ≥ 400".to_owned(),
            relay_reference(f, |r| r.confirmations_per_second),
            format!("{:.0}/s", f.email.confirmations_per_second),
            verdict(f.email.confirmations_per_second >= 400.0),
        ),
        (
            "QR ticket e-mails per second, one worker ≥ 500".to_owned(),
            relay_reference(f, |r| r.tickets_per_second),
            format!("{:.0}/s", f.email.tickets_per_second),
            verdict(f.email.tickets_per_second >= 500.0),
        ),
        (
            "commit-to-e-mail p50 ≤ 15 ms".to_owned(),
            relay_reference(f, |r| r.p50_ms),
            format!("{:.1} ms", f.email.p50_ms),
            verdict(f.email.p50_ms <= 15.0),
        ),
        (
            "CPU per reservation (web + worker + PostgreSQL) halved".to_owned(),
            format!("first measurement {first:.2} ms"),
            format!("{now_ms:.2} ms = {:.2} ×", now_ms / first),
            verdict(now_ms <= first / 2.0),
        ),
    ];
    for (target, reference, measured, v) in rows {
        out.push_str(&format!("| {target} | {reference} | {measured} | {v} |\n"));
    }
    out
}

/// The same figure against Postfix, shown as the reference of the sink's.
fn relay_reference(f: &Figures, figure: impl Fn(&Relay) -> f64) -> String {
    match &f.relay {
        Some(r) => format!("against Postfix: {:.1}", figure(r)),
        None => "Postfix phase skipped".to_owned(),
    }
}

/// Where the CPU went in the runs behind the second round's throughput targets, per request
/// or e-mail: what bounds a rate on a machine whose every core is busy.
fn cpu_split(f: &Figures) -> String {
    let mut out = String::from(
        "\n## Where the CPU went\n\nCPU milliseconds per request (or e-mail) by process, from `/proc`; \"rest\" is the load generator (wrk or pgbench), the benchmark with its SMTP receiver, and anything else on the machine. When the machine is nearly all busy, the rate cannot exceed the cores divided by the total.\n\n| run | rate /s | machine busy | web | worker | PostgreSQL | rest | total |\n|---|---|---|---|---|---|---|---|\n",
    );
    let (b, c, e) = (&f.booking, &f.checkin, &f.email);
    let runs = [
        ("check-in, c=8 (wrk)", c.load.per_second, c.load.usage),
        (
            "check-in reference, c=8 (pgbench)",
            c.reference.per_second,
            c.reference.usage,
        ),
        (
            "booking, c=8, SMTP healthy (wrk)",
            b.healthy8.per_second,
            b.healthy8.usage,
        ),
        (
            "booking reference, c=8 (pgbench)",
            b.reference8.per_second,
            b.reference8.usage,
        ),
        (
            "confirmation e-mails, one worker",
            e.confirmations_per_second,
            Some(e.confirmation_usage),
        ),
        (
            "QR ticket e-mails, one worker",
            e.tickets_per_second,
            Some(e.ticket_usage),
        ),
    ];
    for (name, rate, usage) in runs {
        let Some(u) = usage else { continue };
        let ms = |s: f64| s * 1000.0;
        let p = &u.per_request;
        out.push_str(&format!(
            "| {name} | {rate:.0} | {:.0} % | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            u.busy * 100.0,
            ms(p.web),
            ms(p.worker),
            ms(p.postgres),
            ms(u.rest),
            ms(p.total() + u.rest),
        ));
    }
    out
}

/// Cost per reservation, the relay, two of each and the fault figures.
fn extra_sections(f: &Figures) -> String {
    let l = &f.lifecycle;
    let per = &l.per_reservation;
    let mut out = format!(
        "## Cost per reservation\n\n{} reservations through their whole life (booked, confirmation e-mail, confirmed, ticket e-mail), 8 clients, {:.1} s: CPU per reservation {:.2} ms (the median of {} rounds: {}) = web {:.2} + worker {:.2} + PostgreSQL {:.2} ms (first measurement, before this round: {:.2} ms); {}\n\n",
        l.reservations,
        l.seconds,
        per.total() * 1000.0,
        l.rounds_ms.len(),
        l.rounds_ms
            .iter()
            .map(|ms| format!("{ms:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        per.web * 1000.0,
        per.worker * 1000.0,
        per.postgres * 1000.0,
        crate::lifecycle::FIRST_MS_PER_RESERVATION,
        match l.statements {
            Some(n) => format!(
                "{n:.1} statements executed by PostgreSQL per reservation (pg_stat_statements)"
            ),
            None => "statements not counted (pg_stat_statements not loaded)".to_owned(),
        },
    );
    if let Some((records, bytes)) = l.wal {
        out.push_str(&format!(
            "PostgreSQL wrote {records:.0} WAL records ({:.1} KB) per reservation in that round (`pg_stat_wal`, the whole server's).\n\n",
            bytes / 1000.0
        ));
    }
    if !l.top.is_empty() {
        out.push_str("The statements that cost PostgreSQL most in the median round (execution time, per reservation; text cut short):\n\n| statement | calls | ms |\n|---|---|---|\n");
        for s in &l.top {
            out.push_str(&format!(
                "| `{}` | {:.2} | {:.3} |\n",
                s.text.replace('|', "\\|").replace('`', "'"),
                s.calls,
                s.ms
            ));
        }
        out.push('\n');
    }
    out.push_str("## A real mail relay (Postfix on loopback)\n\n");
    match &f.relay {
        Some(r) => out.push_str(&format!(
            "- booking's 202 to the confirmation e-mail recorded as accepted by Postfix, {} bookings 20 ms apart: p50 {:.1} ms, p99 {:.1} ms\n- confirmation e-mails per second, one worker: {:.0} ({} queued at once)\n- QR ticket e-mails per second, one worker: {:.0} ({} queued at once)\n\n",
            r.samples, r.p50_ms, r.p99_ms, r.confirmations_per_second, r.rate_n, r.tickets_per_second, r.rate_n,
        )),
        None => out.push_str("- SKIPPED (smoke run without Postfix): no figures\n\n"),
    }
    let p = &f.pair;
    out.push_str(&format!(
        "## Two of each\n\nTwo web processes behind nginx (its production template; the upstream name resolves to both), two workers, bookings at c=32 for the load phase's length: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} non-2xx{}; {} bookings, {} confirmation e-mails, {} reservations without one, {} with more than one\n\n",
        p.load.per_second, p.load.p50_ms, p.load.p99_ms, p.load.non_2xx,
        if p.other_answers.is_empty() {
            String::new()
        } else {
            format!(
                " (nginx's access log, status (upstream status): {})",
                p.other_answers
                    .iter()
                    .map(|(status, n)| format!("{status} × {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        p.booked, p.messages, p.lost, p.sent_twice,
    ));
    let x = &f.faults;
    out.push_str(&format!(
        "## Faults\n\n- booking at c=8 while PostgreSQL is stopped: {} answers, {} of them non-2xx (503), p50 {:.2} ms, p99 {:.2} ms\n- a backlog of {} confirmation e-mails drains at {:.0}/s; after a PostgreSQL restart at {:.0}/s, the first e-mail {:.2} s after the worker resumed\n\n",
        x.outage.requests, x.outage.non_2xx, x.outage.p50_ms, x.outage.p99_ms, x.backlog, x.drain_before, x.drain_after_restart, x.first_after_restart.as_secs_f64(),
    ));
    out
}
