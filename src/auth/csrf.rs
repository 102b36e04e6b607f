//! CSRF protection for every state-changing request, in one middleware so no handler can
//! forget it: a same-origin check (`Sec-Fetch-Site` and `Origin` against the configured
//! base URL), then the form's
//! `csrf_token` must equal the per-session token. Bodies over 64 KiB are refused first.
//!
//! A token kept in the session (not per page load) keeps working across tabs; anonymous
//! visitors get one too, so the sign-in form is protected before there is an account.

use actix_session::{Session, SessionExt};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::{self, BytesMut};
use actix_web::HttpMessage;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::state::AppState;
use crate::tokens;

/// Largest accepted request body (SPEC §4.13).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";

/// The session's CSRF token (created on first use) as a page carries it: masked afresh
/// for every page, so the bytes of the secret never repeat from one response to the next.
/// Pages are compressed; an unmasked token beside reflected input (a search) would let
/// someone who sees only compressed sizes guess it byte by byte (BREACH).
pub fn token(session: &Session) -> Result<String, AppError> {
    let secret = match session.get::<String>(SESSION_KEY) {
        Ok(Some(existing)) => existing,
        _ => {
            let fresh = tokens::generate();
            session
                .insert(SESSION_KEY, &fresh)
                .map_err(AppError::internal)?;
            fresh
        }
    };
    mask(&secret).ok_or_else(|| AppError::internal("malformed CSRF secret in the session"))
}

/// `random ‖ (random XOR secret)`, base64url: 64 bytes, 86 characters.
fn mask(secret: &str) -> Option<String> {
    let secret: [u8; 32] = URL_SAFE_NO_PAD.decode(secret).ok()?.try_into().ok()?;
    let mut pad = [0u8; 32];
    OsRng.fill_bytes(&mut pad);
    let mut masked = pad.to_vec();
    masked.extend(pad.iter().zip(secret).map(|(p, s)| p ^ s));
    Some(URL_SAFE_NO_PAD.encode(masked))
}

/// The secret a submitted (masked) token carries.
fn unmask(given: &str) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD.decode(given).ok()?;
    if bytes.len() != 64 {
        return None;
    }
    let (pad, masked) = bytes.split_at(32);
    let mut secret = [0u8; 32];
    for (i, byte) in secret.iter_mut().enumerate() {
        *byte = pad[i] ^ masked[i];
    }
    Some(secret)
}

/// Whether a submitted token carries the session's secret (constant time).
fn carries(expected: &str, given: &str) -> bool {
    match (URL_SAFE_NO_PAD.decode(expected), unmask(given)) {
        (Ok(expected), Some(given)) => expected.ct_eq(&given).into(),
        _ => false,
    }
}

/// A new token, for a new session at sign-in.
pub fn rotate(session: &Session) -> Result<String, AppError> {
    let fresh = tokens::generate();
    session
        .insert(SESSION_KEY, &fresh)
        .map_err(AppError::internal)?;
    Ok(fresh)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The same-origin check (SPEC §4.9): `Origin`, when sent, must be the configured base
/// URL's origin — never compared with the request's `Host`, which the sender chooses (a
/// rebound DNS name reaches us with `Host` and `Origin` both naming the other site) —
/// and `Sec-Fetch-Site`, when sent, must say `same-origin`. A client that sends neither
/// (not a browser) is left to the token.
fn same_origin(req: &ServiceRequest, base_origin: &str) -> bool {
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or(""));
    match (headers.get("sec-fetch-site"), origin) {
        // Browsers send `Origin: null` from pages served with `Referrer-Policy: no-referrer`
        // (ours are); a browser-set `Sec-Fetch-Site: same-origin` then speaks for it, as
        // long as the request is addressed to our own name (a rebound DNS name is not).
        (Some(site), Some("null")) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            site.as_bytes() == b"same-origin"
                && host.is_some_and(|h| {
                    base_origin
                        .split_once("://")
                        .is_some_and(|(_, ours)| ours.eq_ignore_ascii_case(h))
                })
        }
        (Some(site), _) if site.as_bytes() != b"same-origin" => false,
        (_, None) => true,
        (_, Some(origin)) => !base_origin.is_empty() && origin.eq_ignore_ascii_case(base_origin),
    }
}

async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, AppError> {
    let too_large = || AppError::BadRequest("The form is larger than 64 KiB.".into());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The middleware (`middleware::from_fn(csrf::protect)`), placed inside the session layer.
/// A refusal is answered here as a response carrying its `AppError` (not returned as an
/// error), so the error-page layer outside can still dress it with the page chrome.
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !is_safe(req.method()) {
        if let Err(refused) = check(&mut req).await {
            return Ok(req.error_response(refused).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Same origin, a URL-encoded form, and exactly one `csrf_token` that carries the
/// session's secret; the body is put back for the handler.
async fn check(req: &mut ServiceRequest) -> Result<(), actix_web::Error> {
    let base_origin = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.base_origin().to_string())
        .unwrap_or_default();
    if !same_origin(req, &base_origin) {
        return Err(AppError::Csrf.into());
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::BadRequest("Forms must be sent URL-encoded.".into()).into());
    }
    let body = read_body(req).await?;
    let expected = req.get_session().get::<String>(SESSION_KEY).ok().flatten();
    let mut provided = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == FIELD)
        .map(|(_, v)| v);
    let valid = match (expected, provided.next(), provided.next()) {
        (Some(expected), Some(given), None) => carries(&expected, &given),
        _ => false,
    };
    if !valid {
        return Err(AppError::Csrf.into());
    }
    req.set_payload(Payload::from(body));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_differ_every_time_and_carry_the_secret() {
        let secret = tokens::generate();
        let (a, b) = (
            mask(&secret).unwrap_or_default(),
            mask(&secret).unwrap_or_default(),
        );
        assert_eq!(a.len(), 86);
        assert_ne!(a, b);
        assert!(carries(&secret, &a) && carries(&secret, &b));
        assert!(!carries(&tokens::generate(), &a));
        // The bare secret (what an old page carried) and anything malformed are refused.
        assert!(!carries(&secret, &secret));
        assert!(!carries(&secret, "not a token"));
    }
}
