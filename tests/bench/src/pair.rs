//! Two of each: two web processes behind the real nginx (its production template, the upstream
//! named `web` resolving to both, as in a compose deployment scaled to two) and two workers on
//! one database. Bookings go through nginx; afterwards every booking must have had exactly
//! one confirmation e-mail: none lost, none sent twice.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use anyhow::bail;
use tests::{
    nginx::Nginx,
    process::{self, Running},
};

use crate::{
    Phase,
    load::{Load, row, wrk},
};

/// What the two-of-each phase measured.
#[derive(Debug)]
pub struct Pair {
    pub load: Load,
    pub booked: i64,
    pub messages: usize,
    /// Reservations that got more than one confirmation e-mail.
    pub sent_twice: usize,
    /// Reservations that got none.
    pub lost: usize,
    /// The answers other than 202 in nginx's access log, as `status (upstream status)` and
    /// how many (wrk counts them but does not say what they were).
    pub other_answers: Vec<(String, usize)>,
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Pair> {
    let sys = phase.sys;
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    sys.smtp.clear();
    // Two loopback addresses, one port: the two "containers" of service `web`.
    let port = process::free_port().port();
    let webs: Vec<SocketAddr> = [2, 3]
        .map(|last| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), port))
        .to_vec();
    let dns = crate::dns::Resolver::start(webs.iter().map(|a| a.ip()).collect()).await?;
    let mut processes: Vec<Running> = Vec::new();
    for addr in &webs {
        processes.push(sys.spawn_web(&[("BIND_ADDR", addr.to_string())]));
    }
    for addr in &webs {
        process::wait_for_port(*addr).await;
    }
    // The usual worker is the first of the two.
    processes.push(sys.spawn_worker(&[("WORKER_BIND_ADDR", process::free_port().to_string())]));
    let nginx = Nginx::start_for_load(&format!("web:{port}"), dns.addr).await;
    let performance = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let url = format!(
        "https://localhost:{}/api/v1/performances/{performance}/reservations",
        nginx.https.port()
    );
    let load = wrk(&url, 32, phase.seconds, &phase.script("post.lua"), &[])?;
    phase.commands.push(load.command.clone());
    phase.rows.push(row(
        "booking, c=32, two web processes behind nginx, two workers",
        &load,
        None,
    ));
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    let booked: Vec<(uuid::Uuid,)> =
        sqlx::query_as("SELECT id FROM reservations WHERE performance_id = $1")
            .bind(performance)
            .fetch_all(&sys.db.pool)
            .await?;
    // The Message-ID names the reservation: `<confirm.{id}@host>`.
    let mut per_reservation: HashMap<String, usize> = HashMap::new();
    let messages = sys.smtp.messages();
    for m in &messages {
        if let Some(id) = m.header("Message-ID").and_then(|v| {
            v.strip_prefix("<confirm.")
                .map(|r| r.split('@').next().unwrap_or("").to_owned())
        }) {
            *per_reservation.entry(id).or_default() += 1;
        }
    }
    let sent_twice = per_reservation.values().filter(|n| **n > 1).count();
    let lost = booked
        .iter()
        .filter(|(id,)| !per_reservation.contains_key(&id.to_string()))
        .count();
    let mut other: std::collections::BTreeMap<String, usize> = Default::default();
    for line in nginx.log("access.log").lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if entry["status"] != 202 {
            *other
                .entry(format!(
                    "{} ({})",
                    entry["status"], entry["upstream_status"]
                ))
                .or_default() += 1;
        }
    }
    for p in processes {
        p.terminate(Duration::from_secs(10));
    }
    drop(nginx);
    if booked.is_empty() {
        bail!("no booking went through nginx");
    }
    Ok(Pair {
        load,
        booked: booked.len() as i64,
        messages: messages.len(),
        sent_twice,
        other_answers: other.into_iter().collect(),
        lost,
    })
}
