//! How long personal data is kept: unconfirmed reservations expire (their personal data
//! erased at once), and every reservation's personal data is erased once its performance is
//! long past. The worker runs both on a schedule (`worker/src/housekeeping.rs`).

use std::time::Duration;

use sqlx::PgConnection;

/// Expires pending reservations that can no longer be confirmed and erases their personal data:
/// older than the confirmation lifetime, with no live confirmation link, and either e-mailed
/// already or older than `give_up` (an e-mail that could not be sent for that long).
pub async fn expire_pending_reservations(
    conn: &mut PgConnection,
    confirmation_ttl: Duration,
    give_up: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE reservations r
            SET status = 'expired', name = NULL, email = NULL, phone = NULL, notes = NULL,
                personal_data_erased_at = now()
          WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => $1)
            AND (r.confirmation_sent_at IS NOT NULL OR r.created_at < now() - make_interval(secs => $2))
            AND NOT EXISTS (SELECT 1 FROM reservation_tokens t
                             WHERE t.reservation_id = r.id AND t.purpose = 'confirm' AND t.revoked_at IS NULL
                               AND (t.expires_at IS NULL OR t.expires_at > now()))",
    )
    .bind(confirmation_ttl.as_secs_f64())
    .bind(give_up.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Erases name, e-mail, phone and notes of reservations whose performance was more than
/// `retention` ago; party sizes, statuses and times stay for the counts.
pub async fn erase_personal_data(
    conn: &mut PgConnection,
    retention: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE reservations r
            SET name = NULL, email = NULL, phone = NULL, notes = NULL, personal_data_erased_at = now()
           FROM performances p
          WHERE p.id = r.performance_id AND r.personal_data_erased_at IS NULL
            AND p.starts_at < now() - make_interval(secs => $1)",
    )
    .bind(retention.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
