//! Test support: a fresh database per test (temp SQLite file, or a new PostgreSQL database
//! dropped afterwards), the real application on a loopback port, and a client that keeps
//! cookies and scrapes CSRF tokens as a browser would.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use gatehouse::config::Config;
use gatehouse::db::{DbConn, DbPool, DbTarget};
use gatehouse::domain::{PersonName, WorkspaceName};
use gatehouse::email::EmailAddress;
use gatehouse::models::audit::Actor;
use gatehouse::models::role::Role;
use gatehouse::models::workspace::Workspace;
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::members::join::{self, Joining};
use gatehouse::services::workspaces::{self, Created, NewOwnedWorkspace};
use gatehouse::startup::Application;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};

pub type TestFuture = Pin<Box<dyn Future<Output = ()>>>;

pub struct Test {
    pub name: &'static str,
    pub run: fn(TestApp) -> TestFuture,
}

/// `tests![a, b]` lists a module's `async fn x(app: TestApp)` tests for the harness.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pub fn tests() -> Vec<$crate::support::Test> {
            vec![$($crate::support::Test { name: stringify!($name), run: |app| Box::pin($name(app)) }),*]
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub const PASSWORD: &str = "correct horse battery";

pub fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn postgres_reachable(url: &str) -> bool {
    PgConnection::establish(url).is_ok()
}

/// A throw-away database, removed on drop (also when the test panics).
pub struct TestDb {
    pub target: DbTarget,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("gatehouse.db");
                TestDb {
                    target: DbTarget::Sqlite(path.display().to_string()),
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let suffix: String = gatehouse::tokens::generate()
                    .to_lowercase()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(16)
                    .collect();
                let name = format!("gh_test_{suffix}");
                let mut conn =
                    PgConnection::establish(&admin).expect("PostgreSQL admin connection");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&admin)
                    .to_string();
                TestDb {
                    target: DbTarget::Postgres(format!("{base}/{name}")),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A handle on an existing database that does not drop it (a second app instance).
    pub fn reuse(other: &TestDb) -> TestDb {
        TestDb {
            target: other.target.clone(),
            _dir: None,
            pg_name: None,
        }
    }

    pub fn url(&self) -> String {
        match &self.target {
            DbTarget::Sqlite(path) => format!("sqlite://{path}"),
            DbTarget::Postgres(url) => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// One hash for every fixture account: argon2 is deliberately slow.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| gatehouse::auth::password::hash_blocking(PASSWORD).expect("hash"))
}

/// A real SMTP server on loopback (mailin-embedded, in this process) that keeps what it gets.
#[derive(Clone)]
pub struct MailServer {
    pub port: u16,
    store: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[derive(Clone, Default)]
struct Collector {
    store: Arc<Mutex<Vec<Vec<u8>>>>,
    current: Vec<u8>,
}

impl mailin_embedded::Handler for Collector {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> mailin_embedded::Response {
        self.current.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.store
            .lock()
            .expect("mail store")
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// A received message, decoded.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The `Message-ID` header, without its angle brackets.
    pub message_id: Option<String>,
}

impl Mail {
    /// The first `/invite/…` link in the text part, as a path.
    pub fn invite_path(&self) -> String {
        link(self, "/invite/")
    }
}

/// The first path starting with `prefix` in a mail's text part.
pub fn link(mail: &Mail, prefix: &str) -> String {
    let start = mail
        .text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{}", mail.text));
    let end = mail.text[start..]
        .find(char::is_whitespace)
        .map_or(mail.text.len(), |e| start + e);
    mail.text[start..end].to_string()
}

/// The mail to `to` with this subject (panics, listing what came, when there is none).
pub fn mail_to<'a>(mails: &'a [Mail], to: &str, subject: &str) -> &'a Mail {
    mails
        .iter()
        .find(|m| m.to == to && m.subject == subject)
        .unwrap_or_else(|| panic!("no mail to {to} with subject {subject:?}: {mails:?}"))
}

/// The id of the address with this canonical form.
pub fn address_id(app: &TestApp, canonical: &str) -> i64 {
    use diesel::prelude::*;
    use gatehouse::db::schema::email_addresses;
    app.with_db(|conn| {
        email_addresses::table
            .filter(email_addresses::canonical.eq(canonical))
            .select(email_addresses::id)
            .first(conn)
            .unwrap()
    })
}

/// (verified, primary) of an address, if it exists.
pub fn address_state(app: &TestApp, canonical: &str) -> Option<(bool, bool)> {
    use diesel::prelude::*;
    use gatehouse::db::schema::email_addresses;
    app.with_db(|conn| {
        email_addresses::table
            .filter(email_addresses::canonical.eq(canonical))
            .select((email_addresses::verified, email_addresses::is_primary))
            .first(conn)
            .optional()
            .unwrap()
    })
}

/// A loopback port nothing listens on, for a server that is down and comes back later.
/// It lies below the kernel's ephemeral range, so no `bind(0)` and no outgoing connection
/// of a test running meanwhile can take it (a freed ephemeral port was taken in CI).
pub fn port_nobody_listens_on() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = 20_000.min(ephemeral_low / 2);
    let span = ephemeral_low - low;
    let start = (std::process::id() % u32::from(span)) as u16;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % span;
        let port = low + (start + step) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below {ephemeral_low}");
}

impl MailServer {
    pub fn start() -> MailServer {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind smtp"))
    }

    pub fn start_on(listener: TcpListener) -> MailServer {
        let port = listener.local_addr().expect("addr").port();
        let store = Arc::new(Mutex::new(Vec::new()));
        let handler = Collector {
            store: store.clone(),
            current: Vec::new(),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server.with_name("mail.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        MailServer { port, store }
    }

    pub fn received(&self) -> Vec<Mail> {
        self.store
            .lock()
            .expect("mail store")
            .iter()
            .map(|raw| {
                let message = mail_parser::MessageParser::default()
                    .parse(raw)
                    .expect("parse mail");
                let to = message
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .unwrap_or_default()
                    .to_string();
                Mail {
                    to,
                    subject: message.subject().unwrap_or_default().to_string(),
                    text: message
                        .body_text(0)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    html: message
                        .body_html(0)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    message_id: message.message_id().map(str::to_string),
                }
            })
            .collect()
    }

    /// Waits (up to 15 s) until at least `n` messages arrived, and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        for _ in 0..150 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "expected {n} mails, got {}: {:?}",
            self.received().len(),
            self.received()
        );
    }
}

pub struct TestApp {
    pub mail: MailServer,
    pub base_url: String,
    pub backend: Backend,
    pub pool: DbPool,
    pub setup_token: Option<String>,
    handle: actix_web::dev::ServerHandle,
    pub db: TestDb,
}

pub fn run_test(backend: Backend, run: fn(TestApp) -> TestFuture) {
    actix_web::rt::System::new().block_on(async move {
        let app = TestApp::spawn(backend).await;
        let handle = app.handle.clone();
        run(app).await;
        handle.stop(false).await;
    });
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_on(TestDb::new(backend), backend).await
    }

    pub async fn spawn_on(db: TestDb, backend: Backend) -> TestApp {
        let mail = MailServer::start();
        let smtp_url = format!("smtp://127.0.0.1:{}", mail.port);
        Self::spawn_with(db, backend, mail, &smtp_url).await
    }

    /// With a given SMTP URL (which may point where nothing listens yet).
    pub async fn spawn_with(
        db: TestDb,
        backend: Backend,
        mail: MailServer,
        smtp_url: &str,
    ) -> TestApp {
        let smtp_url = smtp_url.to_string();
        Self::spawn_configured(db, backend, mail, move |config| {
            config.smtp_url = Some(smtp_url)
        })
        .await
    }

    /// A second instance on this test's database, changed by `configure`. It relays mail
    /// through this app's SMTP server: the instances share one outbox, and either worker may
    /// send a row, as instances in production share one relay.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_configured(
            TestDb::reuse(&self.db),
            self.backend,
            self.mail.clone(),
            configure,
        )
        .await
    }

    /// Relaying through `mail`, with the test configuration changed by `configure` (e.g. no
    /// SMTP server at all: `config.smtp_url = None`, mail then goes to `config.mail_dir`).
    pub async fn spawn_configured(
        db: TestDb,
        backend: Backend,
        mail: MailServer,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut config = Config::for_database(db.target.clone());
        config.base_url = format!("http://127.0.0.1:{port}");
        config.workers = 1;
        config.secret_key = Some("a test secret key that is long enough for sessions".into());
        config.smtp_url = Some(format!("smtp://127.0.0.1:{}", mail.port));
        configure(&mut config);
        let app = Application::build_with_listener(config, listener).expect("application starts");
        let (pool, setup_token, handle) = (
            app.state.pool.clone(),
            app.setup_token.clone(),
            app.handle(),
        );
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            mail,
            base_url: format!("http://127.0.0.1:{port}"),
            backend,
            pool,
            setup_token,
            handle,
            db,
        }
    }

    pub fn conn(&self) -> gatehouse::db::PooledConn {
        self.pool.get().expect("pooled connection")
    }

    /// Runs a closure on a pooled connection (fixtures and assertions on rows).
    pub fn with_db<T>(&self, f: impl FnOnce(&mut DbConn) -> T) -> T {
        let mut conn = self.conn();
        f(&mut conn)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// A client connecting from another loopback address (`127.0.0.N`): the server sees it
    /// as a different client address (`client_ip` is the TCP peer).
    pub fn client_from(&self, last_octet: u8) -> Client {
        Client::from_address(
            &self.base_url,
            std::net::IpAddr::from([127, 0, 0, last_octet]),
        )
    }

    /// A workspace and its Owner (a new account with the shared test password).
    pub fn create_workspace(&self, name: &str, owner_email: &str, owner_name: &str) -> Created {
        let email = EmailAddress::parse(owner_email).expect("fixture email");
        let name = WorkspaceName::parse(name).expect("fixture workspace name");
        let owner_name = PersonName::parse(owner_name).expect("fixture name");
        self.with_db(|conn| {
            workspaces::create_with_owner(
                conn,
                &Actor::operator(),
                &NewOwnedWorkspace {
                    workspace_name: &name,
                    slug: None,
                    owner_name: &owner_name,
                    owner_email: &email,
                    password_hash: Some(password_hash()),
                },
            )
            .expect("create workspace")
        })
    }

    pub fn role_id(&self, workspace_id: i64, role: BuiltinRole) -> i64 {
        self.with_db(|conn| {
            Role::find_builtin(conn, workspace_id, role)
                .expect("role")
                .id
        })
    }

    /// A new account that joins the workspace with one built-in role; returns the member id.
    /// A second address, already confirmed and not primary, on the account that has
    /// `existing` (what opening the mailed link does); its id.
    pub fn add_confirmed_address(&self, existing: &str, address: &str) -> i64 {
        use diesel::prelude::*;
        use gatehouse::db::schema::email_addresses as e;
        self.with_db(|conn| {
            let account: i64 = e::table
                .filter(e::canonical.eq(existing))
                .select(e::account_id)
                .first(conn)
                .expect("the existing address");
            let now = gatehouse::models::now();
            diesel::insert_into(e::table)
                .values((
                    e::account_id.eq(account),
                    e::address.eq(address),
                    e::canonical.eq(address),
                    e::verified.eq(true),
                    e::is_primary.eq(false),
                    e::created_at.eq(now),
                    e::verified_at.eq(Some(now)),
                ))
                .returning(e::id)
                .get_result(conn)
                .expect("insert the address")
        })
    }

    /// The workspace's seat limit (`None`: the plan's) and daily limit of new people.
    pub fn set_limits(&self, workspace_id: i64, seats: Option<i32>, daily: i32) {
        self.with_db(|conn| {
            gatehouse::models::workspace::Workspace::set_limits(
                conn,
                workspace_id,
                None,
                seats,
                daily,
                gatehouse::models::now(),
            )
            .expect("set the limits")
        });
    }

    pub fn add_member(&self, workspace_id: i64, email: &str, name: &str, role: BuiltinRole) -> i64 {
        self.add_member_with(workspace_id, email, name, role, None, None)
    }

    pub fn add_member_with(
        &self,
        workspace_id: i64,
        email: &str,
        name: &str,
        role: BuiltinRole,
        manager_id: Option<i64>,
        department: Option<&str>,
    ) -> i64 {
        let email = EmailAddress::parse(email).expect("fixture email");
        let role_id = self.role_id(workspace_id, role);
        self.with_db(|conn| {
            let account_id = match gatehouse::models::account::Account::find_by_verified_email(
                conn,
                email.canonical(),
            )
            .expect("lookup")
            {
                Some(account) => account.id,
                None => join::create_account(
                    conn,
                    &Actor::operator(),
                    name,
                    &email,
                    Some(password_hash()),
                )
                .expect("account"),
            };
            join::join(
                conn,
                &Actor::operator(),
                &Joining {
                    workspace_id,
                    account_id,
                    role_ids: &[role_id],
                    seat: gatehouse::models::member::SeatType::Member,
                    manager_id,
                    department,
                },
            )
            .expect("join")
        })
    }

    /// The member id of the workspace's Owner.
    pub fn workspace_owner_member(&self, workspace_id: i64) -> i64 {
        use diesel::prelude::*;
        use gatehouse::db::schema::{member_roles, members, roles};
        self.with_db(|conn| {
            members::table
                .inner_join(member_roles::table.inner_join(roles::table))
                .filter(members::workspace_id.eq(workspace_id))
                .filter(roles::builtin_key.eq("owner"))
                .select(members::id)
                .first(conn)
                .expect("owner member")
        })
    }

    pub fn workspace(&self, slug: &str) -> Workspace {
        self.with_db(|conn| {
            Workspace::find_by_slug(conn, slug)
                .expect("query")
                .expect("workspace")
        })
    }

    /// Number of rows in a table (to prove a refused request changed nothing).
    pub fn count(&self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        self.with_db(|conn| {
            let row: N = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result(conn)
                .expect("count");
            row.n
        })
    }

    pub fn count_audit(&self, action: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        self.with_db(|conn| {
            let sql = gatehouse::db::dialect(
                conn,
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = ?",
            );
            let row: N = diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(action)
                .get_result(conn)
                .expect("count");
            row.n
        })
    }
}

/// A browser-like client: keeps cookies, follows no redirects, sends `Origin` on POSTs.
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    async fn from(response: Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.expect("body");
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    /// The value of the first hidden `csrf_token` field on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no csrf_token on page:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("end of token") + start;
        self.body[start..end].to_string()
    }

    pub fn assert_contains(&self, text: &str) {
        assert!(
            self.body.contains(text),
            "expected page to contain {text:?}; page was:\n{}",
            self.body
        );
    }

    pub fn assert_lacks(&self, text: &str) {
        assert!(
            !self.body.contains(text),
            "expected page NOT to contain {text:?}; page was:\n{}",
            self.body
        );
    }

    /// Number of member rows in a Users table.
    pub fn member_rows(&self) -> usize {
        self.body.matches("class=\"member-name\"").count()
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self::build(base, None)
    }

    /// A client whose connections come from `local` (a loopback address).
    pub fn from_address(base: &str, local: std::net::IpAddr) -> Self {
        Self::build(base, Some(local))
    }

    fn build(base: &str, local: Option<std::net::IpAddr>) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .local_address(local)
            .build()
            .expect("client");
        Client {
            base: base.to_string(),
            http,
            jar,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::from(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    /// POSTs a form exactly as given (no token added), with the site's own `Origin`.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with_headers(path, fields, &[("origin", &self.base.clone())])
            .await
    }

    pub async fn post_with_headers(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = form_body(fields);
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).expect("header"));
        }
        Page::from(request.send().await.expect("POST")).await
    }

    /// Opens `page`, takes its CSRF token and submits `fields` to `action`, as a browser does.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(page).await.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        all.extend_from_slice(fields);
        self.post_raw(action, &all).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password), ("next", "")],
        )
        .await
    }

    /// The session cookie's current value.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url: reqwest::Url = self.base.parse().expect("url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|c| c.strip_prefix("gatehouse_session=").map(str::to_string))
    }

    /// A new client that carries only the given session cookie (a copied cookie).
    pub fn with_cookie(base: &str, value: &str) -> Client {
        let client = Client::new(base);
        let url: reqwest::Url = base.parse().expect("url");
        client
            .jar
            .add_cookie_str(&format!("gatehouse_session={value}; Path=/"), &url);
        client
    }
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    let mut serializer = url_encoded();
    for (k, v) in fields {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

fn url_encoded() -> form_urlencoded::Serializer<'static, String> {
    form_urlencoded::Serializer::new(String::new())
}

/// The name of the account that has this address.
pub fn account_name(app: &TestApp, email: &str) -> String {
    use diesel::prelude::*;
    use gatehouse::db::schema::{accounts, email_addresses as e};
    app.with_db(|conn| {
        accounts::table
            .inner_join(e::table)
            .filter(e::canonical.eq(email))
            .select(accounts::name)
            .first(conn)
            .unwrap()
    })
}
