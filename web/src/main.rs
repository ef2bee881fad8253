//! `azione-web` command line: serve (default), migrate, create-staff, create-api-key.

use std::io::BufRead;

use anyhow::Context;
use clap::{Parser, Subcommand};
use common::{auth, auth::Role, config::Config, db};
use tokio::net::TcpListener;

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
    /// Create or update a staff user; the password comes from AZIONE_STAFF_PASSWORD or stdin.
    CreateStaff {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
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
    let config = Config::from_env()?;
    let pool = db::connect(&config.database).await?;
    match cli.command.unwrap_or(Command::Serve) {
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
        Command::CreateStaff { email, role } => {
            if !email_address::EmailAddress::is_valid(&email) {
                anyhow::bail!("--email must be an e-mail address");
            }
            let password = match std::env::var("AZIONE_STAFF_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => read_password_line()?,
            };
            if password.chars().count() < 8 {
                anyhow::bail!("the password must be at least 8 characters");
            }
            let hash = auth::hash_password(&password)?;
            let mut conn = pool.acquire().await?;
            auth::upsert_staff_user(&mut conn, &email, role, &hash).await?;
            eprintln!("staff user saved with role {}", role.as_str());
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

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
