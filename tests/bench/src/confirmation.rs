//! Confirmations contending for one performance row, with the worker running and paused,
//! beside a pgbench reference that takes the same row lock.

use anyhow::Context;

use crate::{
    Phase,
    load::{Load, pgbench, row, wrk},
    system::seed_tokens,
};

/// What the confirmation phase measured.
#[derive(Debug)]
pub struct Confirmation {
    pub running: Load,
    pub paused: Load,
    pub reference: Load,
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Confirmation> {
    let sys = phase.sys;
    let secs = phase.seconds;
    let contended = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let n = if phase.smoke { 100 } else { 20_000 };
    let tokens = seed_tokens(&sys.db.pool, contended, n, "pending", "confirm").await?;
    let (first_half, second_half) = tokens.split_at(tokens.len() / 2);
    let confirm_url = format!("{}/api/v1/reservations/confirm", sys.base);
    let token_file = phase.scratch.join("confirm.txt");
    std::fs::write(&token_file, first_half.join("\n"))?;
    let running = wrk(
        &confirm_url,
        32,
        secs,
        &phase.script("tokens.lua"),
        &[token_file.to_str().context("path")?],
    )?;
    phase.commands.push(running.command.clone());
    // The same with the worker stopped (SIGSTOP), to show what its ticket e-mails, sent
    // meanwhile on the same two cores, cost the confirmations.
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    let paused_file = phase.scratch.join("confirm-paused.txt");
    std::fs::write(&paused_file, second_half.join("\n"))?;
    tests::process::signal(sys.worker.pid(), "STOP");
    let paused = wrk(
        &confirm_url,
        32,
        secs,
        &phase.script("tokens.lua"),
        &[paused_file.to_str().context("path")?],
    );
    tests::process::signal(sys.worker.pid(), "CONT");
    let paused = paused?;
    sqlx::query("CREATE TABLE bench_ref (n int PRIMARY KEY, touched int NOT NULL DEFAULT 0)")
        .execute(&sys.db.pool)
        .await?;
    sqlx::query("INSERT INTO bench_ref (n) SELECT generate_series(1, 10000)")
        .execute(&sys.db.pool)
        .await?;
    let lock_sql = format!(
        "\\set r random(1, 10000)\nBEGIN;\n\
         SELECT id FROM performances WHERE id = '{contended}' FOR UPDATE;\n\
         SELECT COALESCE(sum(party_size), 0) FROM reservations WHERE performance_id = '{contended}' AND status = 'confirmed';\n\
         UPDATE bench_ref SET touched = touched + 1 WHERE n = :r;\nEND;\n"
    );
    let reference = pgbench(&sys.db.url, 32, secs, &lock_sql, phase.scratch, "confirm32")?;
    phase.commands.push(reference.command.clone());
    phase.rows.push(row(
        "confirmation, one hot performance, c=32",
        &running,
        Some(&reference),
    ));
    phase.rows.push(row(
        "confirmation, one hot performance, c=32, worker paused",
        &paused,
        Some(&reference),
    ));
    Ok(Confirmation {
        running,
        paused,
        reference,
    })
}
