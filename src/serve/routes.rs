//! The endpoints of SPEC §13 and their JSON. Every answer is computed from one snapshot,
//! taken once at the start of the request; computations run on the blocking pool.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::body::read_json_body;
use super::engine::Snapshot;
use super::reply::{ApiError, json as json_reply, json_text};
use super::state::{Change, Service, account_answer, account_value, attributed, trade_request};
use crate::input::requests::{parse_margin_request, parse_trades_request, parse_whatif_request};

/// What every handler shares.
pub struct Ctx {
    /// Set once snapshot 1 is live.
    pub service: Arc<OnceLock<Arc<Service>>>,
    pub max_body_bytes: u64,
}

impl Ctx {
    fn service(&self) -> Result<&Arc<Service>, ApiError> {
        self.service
            .get()
            .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "starting"))
    }
}

type Shared = State<Arc<Ctx>>;
type Answer = Result<Response, ApiError>;

/// The router of every endpoint; unknown routes are 404.
pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/accounts", get(accounts))
        .route("/v1/accounts/{id}", get(account))
        .route("/v1/accounts/{id}/trades", post(trades))
        .route("/v1/accounts/{id}/history", get(history))
        .route("/v1/margin", post(margin))
        .route("/v1/whatif", post(whatif))
        .route("/v1/market", put(market))
        .fallback(unknown_route)
        .with_state(ctx)
}

/// The live snapshot (the guard answers 503 before any handler while there is none).
fn live(ctx: &Ctx) -> Result<Arc<Snapshot>, ApiError> {
    ctx.service()?
        .snapshot()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "starting"))
}

/// 404 for an account id that is no account of the book (S10), naming the request and where
/// the id was: `path` or a body field.
fn unknown_account(request: &str, field: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("{request}: {field}: no account {id:?} in the book"))
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::not_found(format!("no route {}", request.uri().path()))
}

async fn health(State(ctx): Shared) -> Answer {
    let snap = live(&ctx)?;
    let info = ctx.service()?.engine.info();
    let config = &snap.inputs.config;
    let method = match &snap.inputs.historical {
        None => "mc",
        Some(h) if h.method == crate::model::historical::HistoricalMethod::Hs => "hs",
        Some(_) => "fhs",
    };
    Ok(json_reply(&json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "snapshot": snap.number,
        "as_of": crate::time::format_rfc3339(snap.inputs.market.as_of),
        "accounts": snap.figures.len(),
        "paths": snap.inputs.historical.as_ref().map_or(config.paths, |h| h.returns.len() as u64),
        "backend": info.backend,
        "device": info.device,
        "precision": info.precision,
        "seed": config.seed,
        "method": method,
    })))
}

async fn accounts(State(ctx): Shared) -> Answer {
    let snap = live(&ctx)?;
    let rows: Vec<Value> = snap
        .figures
        .iter()
        .map(|f| {
            let m = f.margin.as_ref();
            json!({
                "id": f.id,
                "currency": f.currency,
                "initial": m.map(|m| m.initial),
                "maintenance": m.map(|m| m.maintenance),
            })
        })
        .collect();
    Ok(json_reply(
        &json!({ "snapshot": snap.number, "accounts": rows }),
    ))
}

async fn account(State(ctx): Shared, Path(id): Path<String>) -> Answer {
    let snap = live(&ctx)?;
    let i = snap
        .account_index(&id)
        .ok_or_else(|| unknown_account(&format!("GET /v1/accounts/{id}"), "path", &id))?;
    Ok(json_reply(&account_answer(&snap, i)))
}

/// `POST /v1/margin`: `run` on a portfolio of the one ad-hoc account (not stored, S3).
async fn margin(State(ctx): Shared, request: Request) -> Answer {
    let body = read_json_body(request, ctx.max_body_bytes).await?;
    live(&ctx)?;
    let account = parse_margin_request(&body, "POST /v1/margin").map_err(ApiError::from_engine)?;
    let service = ctx.service()?;
    // The snapshot is read once the permit is held: the freshest state when work starts.
    let permit = adhoc_permit(service).await?;
    let snap = live(&ctx)?;
    let engine = service.engine.clone();
    let inputs = snap.inputs.clone();
    let (warm, book) = (snap.warm.clone(), snap.book.clone());
    let mut figures = blocking(move || {
        let _permit = permit;
        engine.account_figures(&inputs, vec![account], &book, warm.as_ref())
    })
    .await?;
    let report = figures.remove(0);
    Ok(json_reply(
        &json!({ "snapshot": snap.number, "account": account_value(&report) }),
    ))
}

/// `POST /v1/whatif`: `whatif` on the current state. "before" is the account's figures in
/// the snapshot; "after" is the changed account alone, on the same scenarios.
async fn whatif(State(ctx): Shared, request: Request) -> Answer {
    let body = read_json_body(request, ctx.max_body_bytes).await?;
    live(&ctx)?;
    let req = parse_whatif_request(&body, "POST /v1/whatif").map_err(ApiError::from_engine)?;
    // The accounts never change from snapshot to snapshot: an unknown one is a 404 at once.
    let i = live(&ctx)?
        .account_index(&req.account)
        .ok_or_else(|| unknown_account("POST /v1/whatif", "account", &req.account))?;
    let service = ctx.service()?;
    // The snapshot is read once the permit is held: the freshest state when work starts.
    let permit = adhoc_permit(service).await?;
    let snap = live(&ctx)?;
    let mut changed = snap.account(i).clone();
    changed.positions.extend(req.add);
    let engine = service.engine.clone();
    let inputs = snap.inputs.clone();
    let (warm, book) = (snap.warm.clone(), snap.book.clone());
    let mut after = blocking(move || {
        let _permit = permit;
        // An error the added positions cause in the account (a figure no longer finite) is
        // the request's, with where it surfaced.
        engine
            .account_figures(&inputs, vec![changed], &book, warm.as_ref())
            .map_err(|e| attributed("POST /v1/whatif", e))
    })
    .await?;
    let after = after.remove(0);
    let before = &snap.figures[i];
    let pick = |r: &crate::report::AccountReport| {
        let m = r.margin.as_ref();
        (
            m.map_or(0.0, |m| m.components.es),
            m.map_or(0.0, |m| m.initial),
        )
    };
    let ((es0, im0), (es1, im1)) = (pick(before), pick(&after));
    Ok(json_reply(&json!({
        "snapshot": snap.number,
        "account": before.id,
        "currency": before.currency,
        "before": { "es": es0, "initial": im0 },
        "after": { "es": es1, "initial": im1 },
        "increment": { "es": es1 - es0, "initial": im1 - im0 },
    })))
}

/// `POST /v1/accounts/{id}/trades`: the account's positions change for good (S7, S8).
async fn trades(State(ctx): Shared, Path(id): Path<String>, request: Request) -> Answer {
    let body = read_json_body(request, ctx.max_body_bytes).await?;
    let snap = live(&ctx)?;
    let file = trade_request(&id);
    let i = snap
        .account_index(&id)
        .ok_or_else(|| unknown_account(&file, "path", &id))?;
    let req = parse_trades_request(&body, &file).map_err(ApiError::from_engine)?;
    let change = Change::Trade {
        account: i,
        add: req.add,
        trade_id: req.trade_id,
        body,
    };
    ctx.service()?.submit(change).await.map(json_text)
}

/// `PUT /v1/market`: answered once its snapshot is live (S5).
async fn market(State(ctx): Shared, request: Request) -> Answer {
    let body = read_json_body(request, ctx.max_body_bytes).await?;
    ctx.service()?
        .submit(Change::Market { body })
        .await
        .map(json_text)
}

/// `GET /v1/accounts/{id}/history?since=SNAPSHOT&limit=N` (S24).
async fn history(State(ctx): Shared, Path(id): Path<String>, request: Request<Body>) -> Answer {
    let snap = live(&ctx)?;
    if snap.account_index(&id).is_none() {
        let request = format!("GET /v1/accounts/{id}/history");
        return Err(unknown_account(&request, "path", &id));
    }
    let name = format!("GET /v1/accounts/{id}/history");
    let (since, limit) = history_query(&name, request.uri().query().unwrap_or(""))?;
    let service = ctx.service()?.clone();
    let account = id.clone();
    let rows = tokio::task::spawn_blocking(move || service.history(&account, since, limit))
        .await
        .map_err(|e| ApiError::internal(format!("internal error: {e}")))??;
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "snapshot": r.snapshot,
                "at": r.at,
                "initial": r.initial,
                "maintenance": r.maintenance,
                "es": r.es,
            })
        })
        .collect();
    Ok(json_reply(&json!({
        "snapshot": snap.number,
        "account": id,
        "entries": entries,
    })))
}

/// `since` (default 1) and `limit` (default 1000) of a history query, each at most once,
/// percent-decoded (`since=%32` is 2); anything else is 400.
fn history_query(request: &str, query: &str) -> Result<(u64, u64), ApiError> {
    let (mut since, mut limit) = (None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "since" => &mut since,
            "limit" => &mut limit,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{request}: query: {key}: unknown parameter (expected since or limit)"
                )));
            }
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!(
                "{request}: query: {key}: given more than once (got {query:?})"
            )));
        }
        let number = value.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "{request}: query: {key}: must be an integer from 0 to {} (got {value:?})",
                u64::MAX
            ))
        })?;
        *slot = Some(number);
    }
    Ok((since.unwrap_or(1), limit.unwrap_or(1000)))
}

/// Waits for one of the service's permits for a what-if or ad-hoc margin (never closed);
/// the permit moves into the computation, so it is held until the work ends even if the
/// request is dropped.
async fn adhoc_permit(service: &Service) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    service
        .adhoc
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(format!("internal error: {e}")))
}

/// Runs an engine computation on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("internal error: {e}")))?
        .map_err(ApiError::from_engine)
}
