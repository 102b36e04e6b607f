//! The `gatehouse` command line: serve, migrate, create-owner, workspace, domain, seed.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gatehouse::config::Config;
use gatehouse::db::{self, DbTarget};
use gatehouse::domain::{PersonName, Plan, Slug, WorkspaceName};
use gatehouse::email::EmailAddress;
use gatehouse::error::{AppError, ServiceError};
use gatehouse::models::audit::Actor;
use gatehouse::services::domains;
use gatehouse::services::workspaces::{self, NewOwnedWorkspace};
use gatehouse::startup::Application;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Who is in a workspace, and what each person may do."
)]
struct Cli {
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://gatehouse.db",
        global = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application (the default), migrating the database first.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a workspace with an Owner (the account is created if needed; password on stdin).
    CreateOwner {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Workspace administration for the operator.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Claimed email domains of a workspace.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Fill a workspace with realistic members, for benchmarks.
    Seed {
        /// The workspace's slug.
        workspace: String,
        #[arg(long, default_value_t = 1000)]
        members: usize,
    },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Set the plan, seat limit and daily invite limit of a workspace (by slug).
    Limits {
        workspace: String,
        /// A number, or `unlimited`.
        #[arg(long)]
        seats: Option<String>,
        #[arg(long)]
        daily_invites: Option<i32>,
        /// starter (5 seats), professional (25) or enterprise (unlimited).
        #[arg(long)]
        plan: Option<String>,
    },
}

#[derive(Subcommand)]
enum DomainCommand {
    /// Claim a domain for a workspace (Pending until verified); prints its TXT record.
    Add { workspace: String, domain: String },
    /// Mark a workspace's domain verified (claiming it first if needed).
    Verify { workspace: String, domain: String },
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "GATEHOUSE_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Base URL for links in mail (defaults to http://BIND).
    #[arg(long, env = "GATEHOUSE_BASE_URL")]
    base_url: Option<String>,
    /// Session key material (32+ characters); generated and kept in the database if unset.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// SMTP server, e.g. smtp://127.0.0.1:1025 (unset: mail is written as .eml files).
    #[arg(long, env = "GATEHOUSE_SMTP_URL")]
    smtp_url: Option<String>,
    /// Folder the .eml files are written to when no SMTP server is configured.
    #[arg(long, env = "GATEHOUSE_MAIL_DIR", default_value = "mail")]
    mail_dir: std::path::PathBuf,
    #[arg(
        long,
        env = "GATEHOUSE_MAIL_FROM",
        default_value = "Gatehouse <gatehouse@localhost>"
    )]
    mail_from: String,
    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "GATEHOUSE_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: i64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "GATEHOUSE_WORKERS")]
    workers: Option<usize>,
    /// Nameserver (host:port) for domain TXT checks (unset: the system's).
    #[arg(long, env = "GATEHOUSE_DNS_SERVER")]
    dns_server: Option<String>,
    /// Milliseconds a domain TXT check waits for the nameserver.
    #[arg(long, env = "GATEHOUSE_DNS_TIMEOUT_MS", default_value_t = 5000)]
    dns_timeout_ms: u64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match DbTarget::parse(&cli.database_url) {
        Err(message) => Err(message),
        Ok(target) => run(
            target,
            cli.command
                .unwrap_or(Command::Serve(ServeArgs::parse_defaults())),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}

impl ServeArgs {
    /// `gatehouse` with no subcommand serves, reading the same flags' environment fallbacks.
    fn parse_defaults() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["gatehouse"]).serve
    }
}

fn run(target: DbTarget, command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => serve(target, args),
        Command::Migrate => {
            let pool = db::connect(&target, 1)?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let applied = db::migrate(&mut conn)?;
            println!(
                "{} migration(s) applied on {}",
                applied,
                target.backend_name()
            );
            Ok(())
        }
        Command::CreateOwner {
            workspace,
            slug,
            email,
            name,
        } => create_owner(target, &workspace, slug.as_deref(), &email, &name),
        Command::Workspace {
            command:
                WorkspaceCommand::Limits {
                    workspace,
                    seats,
                    daily_invites,
                    plan,
                },
        } => {
            let seats = match seats.as_deref() {
                None => None,
                Some("unlimited") => Some(None),
                Some(n) => Some(Some(n.parse::<i32>().map_err(|_| {
                    format!("--seats takes a number or `unlimited` (got `{n}`)")
                })?)),
            };
            let plan = match plan.as_deref() {
                None => None,
                Some(p) => Some(Plan::from_key(p).ok_or_else(|| {
                    format!("--plan is starter, professional or enterprise (got `{p}`)")
                })?),
            };
            let pool = db::connect(&target, 1)?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            db::migrate(&mut conn)?;
            let change = workspaces::LimitsChange {
                plan,
                seats,
                daily_invites,
            };
            let updated =
                workspaces::set_limits(&mut conn, &Actor::operator(), &workspace, &change)
                    .map_err(|e| said(e, &workspace))?;
            println!(
                "{}: plan {}, seats {}, daily invites {}",
                updated.slug,
                updated.plan_name(),
                updated
                    .seat_limit
                    .map_or("unlimited".to_string(), |n| n.to_string()),
                updated.daily_invite_limit
            );
            Ok(())
        }
        Command::Domain { command } => {
            let pool = db::connect(&target, 1)?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            db::migrate(&mut conn)?;
            let (workspace, result) = match &command {
                DomainCommand::Add { workspace, domain } => (
                    workspace,
                    domains::add_by_operator(&mut conn, workspace, domain),
                ),
                DomainCommand::Verify { workspace, domain } => (
                    workspace,
                    domains::verify_by_operator(&mut conn, workspace, domain),
                ),
            };
            let domain = result.map_err(|e| said(e, workspace))?;
            if domain.is_verified() {
                println!("{}: {} is verified", workspace, domain.domain);
            } else {
                println!(
                    "{}: {} is pending. Verify it with a DNS TXT record on the domain:\n  {}",
                    workspace,
                    domain.domain,
                    domains::txt_record(&domain)
                );
            }
            Ok(())
        }
        Command::Seed { workspace, members } => {
            let pool = db::connect(&target, 1)?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            db::migrate(&mut conn)?;
            let started = std::time::Instant::now();
            gatehouse::seed::seed_members(&mut conn, &workspace, members)?;
            println!(
                "seeded {members} members into {workspace} in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// What a service's refusal or failure says on the command line.
fn said(error: ServiceError, workspace: &str) -> String {
    match error {
        ServiceError::Refused(refusals) => refusals
            .into_iter()
            .map(|r| r.message)
            .collect::<Vec<_>>()
            .join("; "),
        ServiceError::Fatal(AppError::NotFound) => format!("no workspace with slug `{workspace}`"),
        ServiceError::Fatal(other) => other.to_string(),
    }
}

fn serve(target: DbTarget, args: ServeArgs) -> Result<(), String> {
    let mut config = Config::for_database(target);
    config.bind = args.bind;
    config.base_url = args
        .base_url
        .unwrap_or_else(|| format!("http://{}", args.bind));
    config.secret_key = args.secret_key;
    config.smtp_url = args.smtp_url;
    config.mail_from = args.mail_from;
    config.mail_dir = args.mail_dir;
    config.session_idle_minutes = args.session_idle_minutes.clamp(1, 24 * 60);
    if let Some(workers) = args.workers {
        config.workers = workers.max(1);
    }
    if let Some(server) = &args.dns_server {
        use std::net::ToSocketAddrs;
        config.dns_server = Some(
            server
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(|| format!("GATEHOUSE_DNS_SERVER `{server}` is not a host:port"))?,
        );
    }
    config.dns_timeout = std::time::Duration::from_millis(args.dns_timeout_ms.clamp(50, 60_000));
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config.clone())?;
        if let Some(token) = &app.setup_token {
            println!("Gatehouse is not set up yet. Open this one-time link to create the first workspace:");
            println!("  {}", gatehouse::links::Links::from_config(&config).to(&format!("/setup?token={token}")));
        }
        tracing::info!(bind = %config.bind, database = config.database.backend_name(), "serving");
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn create_owner(
    target: DbTarget,
    workspace: &str,
    slug: Option<&str>,
    email: &str,
    name: &str,
) -> Result<(), String> {
    let email = EmailAddress::parse(email).map_err(|e| format!("--email: {e}"))?;
    let workspace = WorkspaceName::parse(workspace).map_err(|e| format!("--workspace: {e}"))?;
    let name = PersonName::parse(name).map_err(|e| format!("--name: {e}"))?;
    let slug = slug
        .map(Slug::parse)
        .transpose()
        .map_err(|e| format!("--slug: {e}"))?;
    let pool = db::connect(&target, 1)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    db::migrate(&mut conn)?;
    let exists =
        gatehouse::models::account::Account::find_by_verified_email(&mut conn, email.canonical())
            .map_err(|e| e.to_string())?
            .is_some();
    let password_hash = if exists {
        None
    } else {
        if std::io::stdin().is_terminal() {
            eprintln!("Password for {} (12+ characters), then Enter:", email);
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let password = line.trim_end_matches(['\r', '\n']);
        gatehouse::auth::password::check_new_password(password)
            .map_err(|m| format!("password: {m}"))?;
        Some(gatehouse::auth::password::hash_blocking(password)?)
    };
    let created = workspaces::create_with_owner(
        &mut conn,
        &Actor::operator(),
        &NewOwnedWorkspace {
            workspace_name: &workspace,
            slug: slug.as_ref(),
            owner_name: &name,
            owner_email: &email,
            password_hash: password_hash.as_deref(),
        },
    )
    .map_err(|e| match e {
        ServiceError::Refused(refusals) => refusals
            .into_iter()
            .map(|r| match r.field {
                Some(field) => format!("--{field}: {}", r.message),
                None => r.message,
            })
            .collect::<Vec<_>>()
            .join("; "),
        ServiceError::Fatal(e) => e.to_string(),
    })?;
    println!(
        "created workspace `{}` (/w/{}/users) owned by {}{}",
        workspace,
        created.slug,
        email,
        if created.account_created {
            " (new account)"
        } else {
            " (existing account)"
        }
    );
    Ok(())
}
