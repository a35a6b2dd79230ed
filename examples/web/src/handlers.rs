//! The routes, the WEB-02 headers and the WEB-04 body limit. Every handler that reaches the
//! driver runs on tokio's blocking pool: argon2 never runs on the async executor.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::render::{STYLE, STYLE_PATH};
use crate::session::COOKIE;
use crate::{Reply, Web};

/// The Content-Security-Policy of every response: nothing but this origin's style sheet, no
/// script at all, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn router(web: Web) -> Router {
    let limit = web.config().max_body;
    Router::new()
        .route("/", get(get_page).post(post_page))
        .route("/menu", axum::routing::post(post_menu))
        .route("/federation", get(get_federation).post(post_federation))
        .route("/mailbox", get(get_mailbox))
        .route(STYLE_PATH, get(style))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(web.clone(), headers))
        .with_state(web)
}

/// The session cookie's value, if the request carries one.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Runs `f` on the blocking pool.
async fn blocking(web: &Web, f: impl FnOnce() -> Reply + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(reply) => respond(web, reply),
        Err(_) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            web.bare_error(500, "システムエラーが発生しました。"),
        ),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn respond(web: &Web, reply: Reply) -> Response {
    let (mut response, cookie) = match reply {
        Reply::Page {
            status,
            html: body,
            cookie,
        } => (
            html(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            ),
            cookie,
        ),
        Reply::Redirect { to, cookie } => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(to));
            (r, cookie)
        }
    };
    if let Some(value) = cookie {
        let secure = if web.config().secure_cookies {
            "; Secure"
        } else {
            ""
        };
        let set = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}");
        if let Ok(v) = HeaderValue::from_str(&set) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

async fn get_page(State(web): State<Web>, headers: HeaderMap) -> Response {
    let w = web.clone();
    blocking(&web, move || w.get_page(cookie(&headers).as_deref())).await
}

async fn post_page(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    let w = web.clone();
    blocking(&web, move || {
        w.post_page(cookie(&headers).as_deref(), &body)
    })
    .await
}

async fn post_menu(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    let w = web.clone();
    blocking(&web, move || {
        w.post_menu(cookie(&headers).as_deref(), &body)
    })
    .await
}

async fn get_federation(State(web): State<Web>, headers: HeaderMap) -> Response {
    let w = web.clone();
    blocking(&web, move || w.get_federation(cookie(&headers).as_deref())).await
}

async fn post_federation(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    let w = web.clone();
    blocking(&web, move || {
        w.post_federation(cookie(&headers).as_deref(), &body)
    })
    .await
}

async fn get_mailbox(State(web): State<Web>) -> Response {
    let w = web.clone();
    match tokio::task::spawn_blocking(move || w.get_mailbox()).await {
        Ok(Some(page)) => html(StatusCode::OK, page),
        _ => not_found(State(web)).await,
    }
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

async fn not_found(State(web): State<Web>) -> Response {
    html(
        StatusCode::NOT_FOUND,
        web.bare_error(404, "お探しのページは見つかりません。"),
    )
}

/// WEB-02 on every response: CSP without script, `Cache-Control: no-store`, `nosniff`, frame
/// denial, no referrer. WEB-04: a body over the limit gets 413 with an error page.
async fn headers(State(web): State<Web>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let page = web.bare_error(
            413,
            "送信された内容が大きすぎます。入力内容を確認してください。",
        );
        let mut replaced = html(StatusCode::PAYLOAD_TOO_LARGE, page);
        std::mem::swap(&mut response, &mut replaced);
    }
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
