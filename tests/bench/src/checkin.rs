//! Check-in: distinct tickets beside a pgbench reference doing what a check-in does, then one
//! ticket scanned over and over.

use anyhow::Context;

use crate::{
    Phase,
    load::{Load, pgbench, row, wrk},
    system::seed_tokens,
};

/// Check-ins of distinct tickets at 8 connections, and the reference.
#[derive(Debug)]
pub struct Checkin {
    pub load: Load,
    pub reference: Load,
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Checkin> {
    let sys = phase.sys;
    let secs = phase.seconds;
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    let door = sys
        .performance(100_000, chrono::Duration::minutes(30))
        .await?;
    let tickets = seed_tokens(
        &sys.db.pool,
        door,
        // More than the run scans, so that every scan is of a ticket not yet checked in.
        if phase.smoke { 100 } else { 60_000 },
        "confirmed",
        "ticket",
    )
    .await?;
    let ticket_file = phase.scratch.join("tickets.txt");
    std::fs::write(&ticket_file, tickets.join("\n"))?;
    let checkin_url = format!("{}/api/v1/checkin", sys.base);
    let ticket_path = ticket_file.to_str().context("path")?;
    let checkin = phase
        .measured(|| {
            wrk(
                &checkin_url,
                8,
                secs,
                &phase.script("tokens.lua"),
                &[ticket_path, &sys.key],
            )
        })
        .await?;
    phase.commands.push(checkin.command.clone());
    // Reference: the database alone doing what a check-in does (lock the reservation found by
    // its ticket, mark it, write the audit entry) for tickets not yet used.
    sqlx::query(
        "CREATE TABLE bench_tickets AS
         SELECT row_number() OVER () AS n, t.token_hash FROM reservation_tokens t
           JOIN reservations r ON r.id = t.reservation_id
          WHERE r.performance_id = $1 AND t.purpose = 'ticket' AND r.checked_in_at IS NULL",
    )
    .bind(door)
    .execute(&sys.db.pool)
    .await?;
    sqlx::query("CREATE UNIQUE INDEX ON bench_tickets (n)")
        .execute(&sys.db.pool)
        .await?;
    let unused: i64 = sqlx::query_scalar("SELECT count(*) FROM bench_tickets")
        .fetch_one(&sys.db.pool)
        .await?;
    let checkin_sql = format!(
        "\\set n random(1, {})\nBEGIN;\n\
         SELECT r.id FROM reservation_tokens t JOIN reservations r ON r.id = t.reservation_id \
          WHERE t.token_hash = (SELECT token_hash FROM bench_tickets WHERE n = :n) AND t.purpose = 'ticket' FOR UPDATE OF r;\n\
         UPDATE reservations SET checked_in_at = now() WHERE id = (SELECT reservation_id FROM reservation_tokens \
          WHERE token_hash = (SELECT token_hash FROM bench_tickets WHERE n = :n));\n\
         INSERT INTO audit_log (actor, action, details) VALUES ('bench', 'checkin', '{{}}');\nEND;\n",
        unused.max(1)
    );
    let reference = phase
        .measured(|| {
            pgbench(
                &sys.db.url,
                8,
                secs,
                &checkin_sql,
                phase.scratch,
                "checkin8",
            )
        })
        .await?;
    phase.commands.push(reference.command.clone());
    phase.rows.push(row(
        "check-in, distinct tickets, c=8",
        &checkin,
        Some(&reference),
    ));
    let duplicate_file = phase.scratch.join("duplicate.txt");
    std::fs::write(&duplicate_file, &tickets[0])?;
    let duplicates = wrk(
        &checkin_url,
        8,
        secs,
        &phase.script("tokens.lua"),
        &[duplicate_file.to_str().context("path")?, &sys.key],
    )?;
    phase.rows.push(row(
        "check-in, one ticket scanned again (409), c=8",
        &duplicates,
        None,
    ));
    Ok(Checkin {
        load: checkin,
        reference,
    })
}
