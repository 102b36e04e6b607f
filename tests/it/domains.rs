//! The Domains screen (issue 12.1): add (canonicalised, public suffixes refused), "Check
//! now" against a real DNS server on loopback (an in-process hickory server with an
//! in-memory zone, and a socket nobody reads for the timeout), remove after a confirmation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse::models::domain::Domain;
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::domains;
use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::proto::rr::rdata::{A, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;
use hickory_server::ServerFuture;

use crate::support::{Client, TestApp, PASSWORD};
use crate::tests;

tests![
    the_right_token_verifies_the_domain_and_is_audited,
    a_wrong_token_no_record_nxdomain_or_no_answer_leave_it_pending_and_say_why,
    public_suffixes_and_bare_tlds_are_refused_beside_the_field,
    an_idn_is_stored_as_punycode,
    a_domain_already_verified_here_is_refused,
    another_workspaces_record_does_not_verify_ours_but_our_own_does,
    members_and_viewers_are_refused,
    remove_asks_first_then_removes_with_an_audit_row,
];

/// An authoritative nameserver for `test.` on a random loopback UDP port (also the route
/// walk's, tests/it/audit_walk.rs).
pub(crate) struct Dns {
    pub(crate) addr: SocketAddr,
    zone: Arc<InMemoryAuthority>,
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap()
}

pub(crate) async fn dns_server() -> Dns {
    let origin = name("test.");
    let mut authority = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
    let soa = SOA::new(
        name("ns.test."),
        name("admin.test."),
        1,
        3600,
        600,
        86400,
        60,
    );
    authority.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
    // A name that exists without a TXT record.
    authority.upsert_mut(
        Record::from_rdata(name("nodata.test."), 60, RData::A(A::new(127, 0, 0, 1))),
        1,
    );
    let zone = Arc::new(authority);
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![zone.clone()]);
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let mut server = ServerFuture::new(catalog);
    server.register_socket(socket);
    actix_web::rt::spawn(async move {
        let _ = server.block_until_done().await;
    });
    Dns { addr, zone }
}

impl Dns {
    pub(crate) async fn publish(&self, domain: &str, value: &str) {
        let record = Record::from_rdata(
            name(&format!("{domain}.")),
            60,
            RData::TXT(TXT::new(vec![value.to_string()])),
        );
        assert!(self.zone.upsert(record, 2).await, "record published");
    }
}

/// An application on the test's database whose TXT checks ask `server`.
pub(crate) async fn app_with_dns(app: &TestApp, server: SocketAddr) -> TestApp {
    app.another_instance(move |config| {
        config.dns_server = Some(server);
        config.dns_timeout = Duration::from_millis(300);
    })
    .await
}

const PAGE: &str = "/w/acme/settings/domains";

async fn owner(app: &TestApp) -> (Client, i64) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    assert_eq!(
        client.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    (client, ws.workspace_id)
}

async fn add(client: &Client, domain: &str) -> crate::support::Page {
    client.submit(PAGE, PAGE, &[("domain", domain)]).await
}

fn stored(app: &TestApp, ws: i64, domain: &str) -> Option<Domain> {
    app.with_db(|conn| Domain::find_by_name(conn, ws, domain).unwrap())
}

async fn check(client: &Client, id: i64) -> crate::support::Page {
    client
        .submit(PAGE, &format!("{PAGE}/{id}/check"), &[])
        .await
}

async fn the_right_token_verifies_the_domain_and_is_audited(app: TestApp) {
    let dns = dns_server().await;
    let app = app_with_dns(&app, dns.addr).await;
    let (client, ws) = owner(&app).await;
    // Linked from Settings.
    client
        .get("/w/acme/settings")
        .await
        .assert_contains(&format!("href=\"{PAGE}\""));
    let added = add(&client, "  Acme.TEST ").await;
    assert_eq!(added.status, 303, "{}", added.body);
    let domain = stored(&app, ws, "acme.test").expect("stored canonical");
    assert!(!domain.is_verified());
    let page = client.get(PAGE).await;
    page.assert_contains("acme.test");
    page.assert_contains("Pending");
    let record = format!("gatehouse-verification={}", domain.verification_token);
    page.assert_contains(&record);
    dns.publish("acme.test", "v=spf1 -all").await;
    dns.publish("acme.test", &record).await;
    let checked = check(&client, domain.id).await;
    assert_eq!(checked.status, 303, "{}", checked.body);
    let page = client.get(PAGE).await;
    page.assert_contains("acme.test is verified.");
    page.assert_contains("Verified");
    page.assert_lacks(&format!("action=\"{PAGE}/{}/check\"", domain.id));
    assert!(stored(&app, ws, "acme.test").unwrap().is_verified());
    assert_eq!(app.count_audit("domain.added"), 1);
    assert_eq!(app.count_audit("domain.verified"), 1);
}

async fn a_wrong_token_no_record_nxdomain_or_no_answer_leave_it_pending_and_say_why(app: TestApp) {
    let dns = dns_server().await;
    let served = app_with_dns(&app, dns.addr).await;
    let (client, ws) = owner(&served).await;
    for d in ["wrong.test", "nodata.test", "missing.test"] {
        assert_eq!(add(&client, d).await.status, 303);
    }
    dns.publish("wrong.test", "gatehouse-verification=not-our-token")
        .await;
    let cases = [
        (
            "wrong.test",
            "has a gatehouse-verification TXT record, but not with this workspace",
        ),
        ("nodata.test", "nodata.test has no TXT record yet."),
        (
            "missing.test",
            "missing.test does not exist in DNS (NXDOMAIN).",
        ),
    ];
    for (d, why) in cases {
        let domain = stored(&served, ws, d).unwrap();
        assert_eq!(check(&client, domain.id).await.status, 303);
        let page = client.get(PAGE).await;
        page.assert_contains(&format!("{d} is still Pending."));
        page.assert_contains(why);
        page.assert_contains("Last checked 20");
        let after = stored(&served, ws, d).unwrap();
        assert!(!after.is_verified(), "{d} stays pending");
        assert!(after.last_checked_at.is_some());
        assert!(after.last_check_result.unwrap().contains(why), "{d}");
    }
    // A nameserver that never answers: a bound socket nobody reads.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let quiet = app_with_dns(&app, silent.local_addr().unwrap()).await;
    let client = quiet.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let domain = stored(&quiet, ws, "wrong.test").unwrap();
    let started = std::time::Instant::now();
    assert_eq!(check(&client, domain.id).await.status, 303);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout is short"
    );
    let page = client.get(PAGE).await;
    page.assert_contains("The nameserver did not answer within 300 ms");
    assert!(!stored(&quiet, ws, "wrong.test").unwrap().is_verified());
    assert_eq!(quiet.count_audit("domain.verified"), 0);
    assert_eq!(quiet.count_audit("domain.checked"), 4);
    drop(silent);
}

async fn public_suffixes_and_bare_tlds_are_refused_beside_the_field(app: TestApp) {
    let (client, _) = owner(&app).await;
    for (input, says) in [
        ("co.uk", "`co.uk` is a public suffix"),
        ("GitHub.io", "`github.io` is a public suffix"),
        ("com", "`com` is a top-level domain"),
        ("", "Enter a domain"),
        ("not a domain", "is not a valid domain name"),
    ] {
        let page = add(&client, input).await;
        assert_eq!(page.status, 422, "{input}: {}", page.body);
        page.assert_contains("<p class=\"field-error\" id=\"domain-error\">");
        page.assert_contains(says);
        // The typed value is kept.
        page.assert_contains(&format!("value=\"{input}\""));
    }
    assert_eq!(app.count("domains"), 0, "nothing stored");
    assert_eq!(app.count_audit("domain.added"), 0);
}

async fn an_idn_is_stored_as_punycode(app: TestApp) {
    let (client, ws) = owner(&app).await;
    assert_eq!(add(&client, " Bücher.Example ").await.status, 303);
    let domain = stored(&app, ws, "xn--bcher-kva.example").expect("punycode");
    client
        .get(PAGE)
        .await
        .assert_contains("xn--bcher-kva.example");
    // The same domain typed another way is the same domain.
    let again = add(&client, "xn--BCHER-kva.example.").await;
    assert_eq!(again.status, 422);
    again.assert_contains("already added");
    assert_eq!(app.count("domains"), 1);
    assert!(!domain.is_verified());
}

async fn a_domain_already_verified_here_is_refused(app: TestApp) {
    let (client, _) = owner(&app).await;
    app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
    let page = add(&client, "ACME.example").await;
    assert_eq!(page.status, 422, "{}", page.body);
    page.assert_contains("acme.example is already verified by this workspace");
    assert_eq!(app.count("domains"), 1);
}

async fn another_workspaces_record_does_not_verify_ours_but_our_own_does(app: TestApp) {
    let dns = dns_server().await;
    let app = app_with_dns(&app, dns.addr).await;
    let (client, ws) = owner(&app).await;
    let beta = app
        .create_workspace("Beta", "bea@beta.example", "Bea Owner")
        .workspace_id;
    let theirs =
        app.with_db(|conn| domains::verify_by_operator(conn, "beta", "shared.test").unwrap());
    dns.publish(
        "shared.test",
        &format!("gatehouse-verification={}", theirs.verification_token),
    )
    .await;
    assert_eq!(add(&client, "shared.test").await.status, 303);
    let ours = stored(&app, ws, "shared.test").unwrap();
    assert_ne!(ours.verification_token, theirs.verification_token);
    client.get(PAGE).await.assert_contains(&format!(
        "gatehouse-verification={}",
        ours.verification_token
    ));
    assert_eq!(check(&client, ours.id).await.status, 303);
    client
        .get(PAGE)
        .await
        .assert_contains("but not with this workspace");
    assert!(!stored(&app, ws, "shared.test").unwrap().is_verified());
    // With this workspace's own record published too, it is verified here as well, and
    // Beta's verification stands (each workspace proves control through its own record).
    dns.publish(
        "shared.test",
        &format!("gatehouse-verification={}", ours.verification_token),
    )
    .await;
    assert_eq!(check(&client, ours.id).await.status, 303);
    assert!(stored(&app, ws, "shared.test").unwrap().is_verified());
    assert!(stored(&app, beta, "shared.test").unwrap().is_verified());
    assert_eq!(app.count_audit("domain.verified"), 2, "Beta's, then ours");
}

async fn members_and_viewers_are_refused(app: TestApp) {
    let (_, ws) = owner(&app).await;
    app.with_db(|conn| domains::add_by_operator(conn, "acme", "acme.example").unwrap());
    let id = stored(&app, ws, "acme.example").unwrap().id;
    app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    app.add_member(ws, "vic@acme.example", "Vic Viewer", BuiltinRole::Viewer);
    for email in ["mia@acme.example", "vic@acme.example"] {
        let client = app.client();
        client.sign_in(email, PASSWORD).await;
        assert_eq!(client.get(PAGE).await.status, 403, "{email}");
        client
            .get("/w/acme/settings")
            .await
            .assert_lacks(&format!("href=\"{PAGE}\""));
        let token = client.get("/account").await.csrf();
        for (path, fields) in [
            (PAGE.to_string(), vec![("domain", "other.example")]),
            (format!("{PAGE}/{id}/check"), vec![]),
            (format!("{PAGE}/{id}/delete"), vec![("confirm", "yes")]),
        ] {
            let mut all = vec![("csrf_token", token.as_str())];
            all.extend(fields);
            let page = client.post_raw(&path, &all).await;
            assert_eq!(page.status, 403, "{email} POST {path}");
        }
    }
    assert_eq!(app.count("domains"), 1);
    assert_eq!(app.count_audit("domain.removed"), 0);
}

async fn remove_asks_first_then_removes_with_an_audit_row(app: TestApp) {
    let (client, ws) = owner(&app).await;
    app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
    let id = stored(&app, ws, "acme.example").unwrap().id;
    let path = format!("{PAGE}/{id}/delete");
    let asked = client.submit(PAGE, &path, &[]).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    asked.assert_contains("Remove acme.example?");
    asked.assert_contains("What stops working");
    asked.assert_contains("can no longer edit the names of members");
    asked.assert_contains("name=\"confirm\" value=\"yes\"");
    assert_eq!(app.count("domains"), 1, "asking changes nothing");
    assert_eq!(app.count_audit("domain.removed"), 0);
    // Without a CSRF token nothing happens.
    let forged = client.post_raw(&path, &[("confirm", "yes")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.count("domains"), 1);
    let done = client.submit(PAGE, &path, &[("confirm", "yes")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(app.count("domains"), 0);
    assert_eq!(app.count_audit("domain.removed"), 1);
    let page = client.get(PAGE).await;
    page.assert_contains("acme.example was removed.");
    page.assert_contains("No domain yet.");
    // An unknown id is a 404.
    let gone = client.submit(PAGE, &path, &[("confirm", "yes")]).await;
    assert_eq!(gone.status, 404);
}
