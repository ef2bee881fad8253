//! `azione-web` command line: serve (default), migrate, create-staff, create-api-key.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Parser, Subcommand};
use common::{
    audit,
    audit::AuditAction,
    auth,
    auth::Role,
    catalogue,
    config::{Config, DatabaseConfig},
    db,
};
use serde_json::json;

use tokio::net::TcpListener;

const DEMO_ROOM: &str = "Sala Azione";

const CREATE_STAFF_HELP: &str = "\
Roles:
  admin     everything, including staff users, API keys and the audit log
  editor    rooms, shows and performances; no personal data
  door      check-in only (the door page and the ticket page's Check in button)
  operator  the job queue and metrics; no personal data

Password: 8 to 1000 characters. It is read from AZIONE_STAFF_PASSWORD if set; otherwise
it is asked for twice without echo on a terminal, or read as one line from standard input.";

#[derive(Parser)]
#[command(
    name = "azione-web",
    about = "AzioneLab reservations: web server and admin commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply the application's and the job queue's migrations, then exit.
    Migrate,
    /// Create a staff user, or with --update reset the password of an existing one (ending
    /// their sessions). Needs only DATABASE_URL.
    #[command(after_help = CREATE_STAFF_HELP)]
    CreateStaff {
        #[arg(long)]
        email: String,
        /// admin, editor, door or operator (see below). Required to create; with --update,
        /// also changes the role.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// Reset the password of an existing user instead of creating one.
        #[arg(long)]
        update: bool,
    },
    /// Add a demo room and three open performances (for local development; idempotent).
    SeedDemo,
    /// Create an API key and print it once.
    CreateApiKey {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        label: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "role must be admin, editor, door or operator".to_owned())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    common::telemetry::init("azione-web");
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::CreateStaff {
        email,
        role,
        update,
    } = command
    {
        // Needs the database only, so an operator can run it without the web's secrets.
        let pool = db::connect(&DatabaseConfig::from_env()?).await?;
        return create_staff(&pool, &email, role, update).await;
    }
    let config = Config::from_env()?;
    // The server rides out a database that is away (answering 503 meanwhile); one-shot
    // commands need it now and say so at once.
    let pool = match command {
        Command::Serve => db::connect_lazy(&config.database)?,
        _ => db::connect(&config.database).await?,
    };
    match command {
        Command::Serve => {
            let listener = TcpListener::bind(config.http.bind_addr)
                .await
                .with_context(|| format!("bind BIND_ADDR {}", config.http.bind_addr))?;
            tracing::info!(addr = %config.http.bind_addr, "listening");
            web::serve(
                listener,
                web::AppState::new(pool, config),
                web::shutdown_signal(),
            )
            .await?;
        }
        Command::Migrate => {
            db::migrate(&pool).await?;
            tracing::info!("migrations applied");
        }
        Command::CreateStaff { .. } => unreachable!("handled above"),
        Command::SeedDemo => {
            let mut tx = pool.begin().await?;
            let rooms = catalogue::list_rooms(&mut tx).await?;
            if rooms.iter().any(|r| r.name == DEMO_ROOM) {
                eprintln!("demo data already present");
                return Ok(());
            }
            let room = catalogue::insert_room(&mut tx, DEMO_ROOM, 40).await?;
            let show = catalogue::upsert_show(&mut tx, "La locandiera").await?;
            catalogue::update_show_description(
                &mut tx,
                show,
                "Carlo Goldoni's comedy, staged by the AzioneLab ensemble.",
            )
            .await?;
            for days in [3, 10, 17] {
                let starts_at = (chrono::Utc::now() + chrono::Duration::days(days))
                    .date_naive()
                    .and_hms_opt(19, 30, 0)
                    .expect("valid time")
                    .and_utc();
                let settings = catalogue::PerformanceSettings {
                    booking_status: catalogue::BookingStatus::Open,
                    ..catalogue::PerformanceSettings::with_defaults(show, room.id, starts_at)
                };
                catalogue::insert_performance(&mut tx, &settings).await?;
            }
            tx.commit().await?;
            eprintln!("demo room and three open performances created");
        }
        Command::CreateApiKey { role, label } => {
            let label = label.trim();
            if label.is_empty() || label.chars().count() > 100 {
                anyhow::bail!("--label must be 1 to 100 characters");
            }
            let mut conn = pool.acquire().await?;
            let (_, raw) = auth::create_api_key(&mut conn, role, label).await?;
            println!("{}", raw.expose());
        }
    }
    Ok(())
}

/// `create-staff`: creates a user, or with `update` resets an existing user's password (and
/// role, if given); either way audited, and a reset ends the user's sessions.
async fn create_staff(
    pool: &sqlx::PgPool,
    email: &str,
    role: Option<Role>,
    update: bool,
) -> anyhow::Result<()> {
    let email = email.trim();
    if !email_address::EmailAddress::is_valid(email) {
        anyhow::bail!("--email must be an e-mail address");
    }
    if !update && role.is_none() {
        anyhow::bail!("--role is required to create a staff user");
    }
    let password = match std::env::var("AZIONE_STAFF_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ if std::io::stdin().is_terminal() => prompt_password(email)?,
        _ => read_password_line()?,
    };
    if let Err(problem) = auth::check_password_rule(&password) {
        anyhow::bail!("the password {problem}");
    }
    let hash = auth::hash_password(&password)?;
    let mut tx = pool.begin().await?;
    if update {
        let Some(id) = auth::find_staff_id(&mut tx, email).await? else {
            anyhow::bail!("no staff user has this e-mail address");
        };
        auth::reset_staff_password(&mut tx, id, &hash).await?;
        audit::record(
            &mut tx,
            "cli",
            AuditAction::StaffPasswordReset,
            Some(id),
            json!({}),
        )
        .await?;
        if let Some(role) = role {
            auth::update_staff_role(&mut tx, id, role).await?;
            audit::record(
                &mut tx,
                "cli",
                AuditAction::StaffRole,
                Some(id),
                json!({ "role": role }),
            )
            .await?;
        }
        tx.commit().await?;
        eprintln!("password reset; the user's sessions have ended");
    } else {
        let role = role.expect("checked above");
        let Some(id) = auth::insert_staff_user(&mut tx, email, role, &hash).await? else {
            anyhow::bail!(
                "a staff user with this e-mail address exists; use --update to reset the password"
            );
        };
        audit::record(
            &mut tx,
            "cli",
            AuditAction::StaffCreate,
            Some(id),
            json!({ "role": role }),
        )
        .await?;
        tx.commit().await?;
        eprintln!("staff user created with role {}", role.as_str());
    }
    Ok(())
}

/// Asks for the password twice on the terminal, with echo off (`stty -echo`) while it is typed.
fn prompt_password(email: &str) -> anyhow::Result<String> {
    let ask = |prompt: &str| -> anyhow::Result<String> {
        // Echo goes off before the prompt shows, so nothing typed after it can be echoed.
        set_echo(false)?;
        eprint!("{prompt}");
        let line = read_password_line();
        let restored = set_echo(true);
        eprintln!();
        let line = line?;
        restored?;
        Ok(line)
    };
    let first = ask(&format!("Password for {email} (8 to 1000 characters): "))?;
    if let Err(problem) = auth::check_password_rule(&first) {
        anyhow::bail!("the password {problem}");
    }
    if ask("The same password again: ")? != first {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

fn set_echo(on: bool) -> anyhow::Result<()> {
    let status = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .context("run stty to turn the terminal's echo off")?;
    anyhow::ensure!(
        status.success(),
        "stty could not change the terminal's echo"
    );
    Ok(())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
