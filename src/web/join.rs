//! The shareable invite link: its settings page (`/w/{ws}/settings/link`, `settings.manage`),
//! its public page (`/join/{token}`: opening changes nothing, joining is one POST) and a new
//! person's address confirmation (`/join/confirm/{token}`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf;
use crate::domain::{LastDay, NewPassword, PersonName};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::models::join_link::JoinLink;
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::join_link::{self, LinkInput, LinkState, LinkView, Used};
use crate::state::AppState;
use crate::web::auth_pages::begin_session;
use crate::web::forms::{EmptyForm, FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{
    attempt, client_ip, db, encode_query_value, path_token, refused, render_status, see_other,
    set_flash, take, take_flash, Chrome, FlashKind, REFUSED,
};

/// The session key of a link's URL, shown once after enabling or rotating.
const NEW_LINK_KEY: &str = "join_link_new";

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LinkForm {
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    require_approval: String,
    #[serde(default)]
    verified_domains_only: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    max_uses: String,
}

fn checkbox(value: &str) -> AppResult<bool> {
    match value {
        "" => Ok(false),
        "on" => Ok(true),
        _ => Err(AppError::BadRequest("A checkbox is `on` or absent.".into())),
    }
}

impl LinkForm {
    fn has_role(&self, id: &i64) -> bool {
        self.role.iter().any(|r| r == &id.to_string())
    }

    fn from_link(link: &JoinLink) -> Self {
        LinkForm {
            enabled: if link.enabled {
                "on".into()
            } else {
                String::new()
            },
            require_approval: if link.require_approval {
                "on".into()
            } else {
                String::new()
            },
            verified_domains_only: if link.verified_domains_only {
                "on".into()
            } else {
                String::new()
            },
            role: link
                .role_id_list()
                .iter()
                .map(ToString::to_string)
                .collect(),
            // The stored end is midnight after the last day.
            expires_on: link
                .expires_at
                .map(|at| {
                    (at - chrono::TimeDelta::days(1))
                        .format("%Y-%m-%d")
                        .to_string()
                })
                .unwrap_or_default(),
            max_uses: link.max_uses.map(|n| n.to_string()).unwrap_or_default(),
        }
    }

    /// The settings as the service takes them, every field's problem at once; a value no
    /// page of ours sends (a checkbox other than `on`, a role that is not a number) is 400.
    fn input(&self) -> AppResult<Result<LinkInput, FieldErrors>> {
        let enabled = checkbox(&self.enabled)?;
        let require_approval = checkbox(&self.require_approval)?;
        let verified_domains_only = checkbox(&self.verified_domains_only)?;
        let mut role_ids = Vec::new();
        for r in &self.role {
            role_ids.push(
                r.parse::<i64>()
                    .map_err(|_| AppError::BadRequest("A role is a role id.".into()))?,
            );
        }
        let mut errors = FieldErrors::default();
        let expires_on = match LastDay::parse_optional(&self.expires_on) {
            Ok(day) => day,
            Err(invalid) => {
                errors.add(
                    "expires_on",
                    invalid.to_string().replace("end date", "last day"),
                );
                None
            }
        };
        let max_uses = match self.max_uses.trim() {
            "" => None,
            typed => match typed.parse::<i32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
                _ => {
                    errors.add(
                        "max_uses",
                        "Enter a whole number from 1 to 1000000, or leave it empty for no limit",
                    );
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(Ok(LinkInput {
                enabled,
                require_approval,
                verified_domains_only,
                role_ids,
                expires_on,
                max_uses,
            }))
        } else {
            Ok(Err(errors))
        }
    }
}

#[derive(Template)]
#[template(path = "settings/link.html")]
struct LinkPage {
    chrome: Chrome,
    action: String,
    rotate_action: String,
    settings_href: String,
    form: LinkForm,
    errors: FieldErrors,
    roles: Vec<Role>,
    link: Option<JoinLink>,
    /// The URL, right after enabling or rotating (it is stored only hashed).
    new_url: Option<String>,
}

async fn render_link(
    ctx: &WorkspaceCtx,
    form: Option<LinkForm>,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let access = ctx.access.clone();
    let overview = db(ctx.db_pool(), move |conn| {
        join_link::overview(conn, &access)
    })
    .await?;
    let form = form.unwrap_or_else(|| match &overview.link {
        Some(link) => LinkForm::from_link(link),
        None => LinkForm {
            role: overview
                .roles
                .iter()
                .filter(|r| r.builtin_key.as_deref() == Some("member"))
                .map(|r| r.id.to_string())
                .collect(),
            ..LinkForm::default()
        },
    });
    let new_url: Option<String> = take(&ctx.session, NEW_LINK_KEY);
    let page = LinkPage {
        chrome: ctx.chrome("Invite link", "settings")?,
        action: ctx.path("/settings/link"),
        rotate_action: ctx.path("/settings/link/rotate"),
        settings_href: ctx.path("/settings"),
        form,
        errors,
        roles: overview.roles,
        link: overview.link,
        new_url,
    };
    render_status(&page, status)
}

fn remember_url(ctx: &WorkspaceCtx, token: &str) -> AppResult<()> {
    let url = ctx.state.links.to(&format!("/join/{token}"));
    ctx.session
        .insert(NEW_LINK_KEY, url)
        .map_err(AppError::internal)
}

/// GET /w/{ws}/settings/link — requires settings.manage.
pub async fn show(ctx: WorkspaceCtx) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    render_link(&ctx, None, FieldErrors::default(), StatusCode::OK).await
}

/// POST /w/{ws}/settings/link — requires settings.manage: `enabled`, `require_approval`,
/// `verified_domains_only` (checkboxes), `role` (repeatable), `expires_on`, `max_uses`.
pub async fn save(ctx: WorkspaceCtx, form: StrictForm<LinkForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let form = form.0;
    let input = match form.input()? {
        Ok(input) => input,
        Err(errors) => return render_link(&ctx, Some(form), errors, REFUSED).await,
    };
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    let enabled = input.enabled;
    match attempt(ctx.db_pool(), move |conn| {
        join_link::save(conn, &access, &actor, &input)
    })
    .await?
    {
        Ok(token) => {
            let message = match (&token, enabled) {
                (Some(token), _) => {
                    remember_url(&ctx, token)?;
                    "The invite link is on. Copy it now: it is shown only this once."
                }
                (None, true) => "Invite link settings saved.",
                (None, false) => "The invite link is off: it no longer lets anyone join.",
            };
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/settings/link")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_link(&ctx, Some(form), errors, REFUSED).await
        }
    }
}

/// POST /w/{ws}/settings/link/rotate — requires settings.manage: a new URL, the old one
/// stops working at once.
pub async fn rotate(ctx: WorkspaceCtx, _form: StrictForm<EmptyForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        join_link::rotate(conn, &access, &actor)
    })
    .await?
    {
        Ok(token) => {
            remember_url(&ctx, &token)?;
            set_flash(
                &ctx.session,
                FlashKind::Success,
                "A new invite link is below; the old one no longer works. Copy it now: it is shown only this once.",
            )?;
            Ok(see_other(&ctx.path("/settings/link")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_link(&ctx, None, errors, REFUSED).await
        }
    }
}

/// Which page of `/join/{token}` to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    Unknown,
    Disabled,
    Expired,
    UsedUp,
    /// Signed in: one button.
    Join,
    /// Not signed in: sign in, or create an account.
    NewPerson,
}

#[derive(Template)]
#[template(path = "join/page.html")]
struct JoinPage {
    chrome: Chrome,
    step: Step,
    view: Option<LinkView>,
    action: String,
    login_href: String,
    form: JoinForm,
    errors: FieldErrors,
}

/// The new person's form; signed in, the button posts no field.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct JoinForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

impl JoinForm {
    fn new_person(&self) -> Result<(PersonName, EmailAddress, NewPassword), FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = PersonName::parse(&self.name)
            .map_err(|e| errors.add("name", e.to_string()))
            .ok();
        let email = EmailAddress::parse(&self.email)
            .map_err(|e| errors.add("email", e.to_string()))
            .ok();
        let password = match NewPassword::parse(
            &self.password,
            &self.password_confirm,
            ("password", "password_confirm"),
        ) {
            Ok(p) => Some(p),
            Err(refusals) => {
                for r in refusals {
                    errors.add(r.field.unwrap_or("password"), r.message);
                }
                None
            }
        };
        match (name, email, password) {
            (Some(n), Some(e), Some(p)) if errors.is_empty() => Ok((n, e, p)),
            _ => Err(errors),
        }
    }

    /// What is shown again after a refusal: never the passwords.
    fn typed(&self) -> JoinForm {
        JoinForm {
            name: self.name.clone(),
            email: self.email.clone(),
            ..JoinForm::default()
        }
    }
}

fn signed_in_account(session: &Session) -> Option<i64> {
    crate::web::session::AppSession::from(session).account_id()
}

async fn join_page(
    session: &Session,
    state: &AppState,
    token: Option<&str>,
    form: JoinForm,
    errors: FieldErrors,
    code: Option<StatusCode>,
) -> AppResult<HttpResponse> {
    let probe = token.map(str::to_string);
    let link = db(&state.pool, move |conn| match probe {
        Some(token) => join_link::lookup(conn, &token),
        None => Ok(LinkState::Unknown),
    })
    .await?;
    let account = signed_in_account(session);
    let (step, view, status) = match link {
        LinkState::Unknown => (Step::Unknown, None, StatusCode::NOT_FOUND),
        LinkState::Disabled(v) => (Step::Disabled, Some(v), StatusCode::GONE),
        LinkState::Expired(v) => (Step::Expired, Some(v), StatusCode::GONE),
        LinkState::UsedUp(v) => (Step::UsedUp, Some(v), StatusCode::GONE),
        LinkState::Open(v) if account.is_some() => (Step::Join, Some(v), StatusCode::OK),
        LinkState::Open(v) => (Step::NewPerson, Some(v), StatusCode::OK),
    };
    let path = format!("/join/{}", token.unwrap_or_default());
    let mut chrome = Chrome::public(
        "Join a workspace",
        csrf::token(session)?,
        take_flash(session),
    );
    if let Some(id) = account {
        let state = state.pool.clone();
        let summary = db(&state, move |conn| {
            crate::services::access::account_summary(conn, id)
        })
        .await?;
        chrome.signed_in = summary.map(|a| a.name);
    }
    let page = JoinPage {
        chrome,
        step,
        view,
        login_href: format!("/login?next={}", encode_query_value(&path)),
        action: path,
        form,
        errors,
    };
    render_status(&page, code.unwrap_or(status))
}

/// GET /join/{token} — public; reads only.
pub async fn show_join(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let token = path_token(&req);
    join_page(
        &session,
        &state,
        token.as_deref(),
        JoinForm::default(),
        FieldErrors::default(),
        None,
    )
    .await
}

/// POST /join/{token} — signed in: joins (or asks to join) with no field. Signed out: a
/// new account from `name`, `email`, `password`, `password_confirm`, joined only once the
/// address is confirmed through the link mailed to it.
pub async fn join(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: StrictForm<JoinForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let Some(token) = path_token(&req) else {
        return join_page(
            &session,
            &state,
            None,
            JoinForm::default(),
            FieldErrors::default(),
            None,
        )
        .await;
    };
    let signed_in = signed_in_account(&session);
    let actor = Actor {
        account_id: signed_in,
        ip: client_ip(&req),
    };
    let (links, probe) = (state.links.clone(), token.clone());
    let outcome = match signed_in {
        Some(account_id) => attempt(&state.pool, move |conn| {
            join_link::use_link(conn, &actor, &links, &probe, account_id)
        })
        .await
        .map(|r| r.map(Some)),
        None => {
            let (name, email, password) = match form.new_person() {
                Ok(parts) => parts,
                Err(errors) => {
                    return join_page(
                        &session,
                        &state,
                        Some(&token),
                        form.typed(),
                        errors,
                        Some(REFUSED),
                    )
                    .await
                }
            };
            let hash = state.passwords.hash(password.expose()).await?;
            match attempt(&state.pool, move |conn| {
                join_link::start_new_person(conn, &actor, &links, &probe, &name, &email, &hash)
            })
            .await
            {
                Ok(Ok(address)) => {
                    state.mail_wakeup.notify_one();
                    set_flash(
                        &session,
                        FlashKind::Success,
                        format!("Almost there: we sent a link to {address}. Open it to confirm the address; only then do you join the workspace."),
                    )?;
                    return Ok(see_other("/login"));
                }
                Ok(Err(refusals)) => Ok(Err(refusals)),
                Err(e) => Err(e),
            }
        }
    };
    if let Err(AppError::NotFound) = outcome {
        return join_page(
            &session,
            &state,
            Some(&token),
            JoinForm::default(),
            FieldErrors::default(),
            None,
        )
        .await;
    }
    match outcome? {
        Ok(Some(used)) => done(&session, &state, used),
        Ok(None) => Ok(see_other("/")),
        Err(refusals) => {
            let errors = refused(&session, refusals)?;
            join_page(
                &session,
                &state,
                Some(&token),
                form.typed(),
                errors,
                Some(REFUSED),
            )
            .await
        }
    }
}

fn done(session: &Session, state: &AppState, used: Used) -> AppResult<HttpResponse> {
    state.mail_wakeup.notify_one();
    match used {
        Used::Joined { workspace_slug } => {
            set_flash(
                session,
                FlashKind::Success,
                "Welcome! You have joined the workspace.",
            )?;
            Ok(see_other(&format!("/w/{workspace_slug}/users")))
        }
        Used::Requested { workspace_name } => {
            set_flash(
                session,
                FlashKind::Success,
                format!("Your request to join {workspace_name} was sent to its admins. You'll get an email when they decide."),
            )?;
            Ok(see_other("/"))
        }
    }
}

#[derive(Template)]
#[template(path = "join/confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    action: String,
    found: Option<(String, String)>,
}

async fn confirm_page(
    session: &Session,
    state: &AppState,
    token: Option<String>,
    code: Option<StatusCode>,
) -> AppResult<HttpResponse> {
    let probe = token.clone();
    let found = db(&state.pool, move |conn| match probe {
        Some(t) => join_link::confirmation(conn, &t),
        None => Ok(None),
    })
    .await?;
    let status = if found.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let page = ConfirmPage {
        chrome: Chrome::public(
            "Confirm your address",
            csrf::token(session)?,
            take_flash(session),
        ),
        action: format!("/join/confirm/{}", token.unwrap_or_default()),
        found,
    };
    render_status(&page, code.unwrap_or(status))
}

/// GET /join/confirm/{token} — public; reads only (mail scanners open links).
pub async fn confirm_form(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    confirm_page(&session, &state, path_token(&req), None).await
}

/// POST /join/confirm/{token} — confirms the address, signs the account in and uses the
/// link (join or a join request), with every check of the link made again now.
pub async fn confirm(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return confirm_page(&session, &state, None, None).await;
    };
    let actor = Actor {
        account_id: None,
        ip: client_ip(&req),
    };
    let links = state.links.clone();
    let probe = token.clone();
    let outcome = attempt(&state.pool, move |conn| {
        join_link::confirm(conn, &actor, &links, &probe)
    })
    .await;
    if let Err(AppError::NotFound) = outcome {
        return confirm_page(&session, &state, Some(token), None).await;
    }
    match outcome? {
        Ok((account_id, used)) => {
            begin_session(&session, &req, account_id)?;
            done(&session, &state, used)
        }
        Err(refusals) => {
            refused(&session, refusals)?;
            confirm_page(&session, &state, Some(token), Some(REFUSED)).await
        }
    }
}
