//! `tailrisk serve` (SPEC §13): the margin service.
//!
//! - `auth`: bearer token and loopback checks; `body`: request bodies (415, 413, 408);
//! - `engine`: snapshots and the changes between them (synchronous, on the blocking pool);
//! - `state`: the live snapshot, the single writer, trade ids and the history;
//! - `store`: `--state` in SQLite; `schema`: the checks of a state file before it is
//!   written; `replay`: start-up and replay of a state file;
//! - `routes`: the endpoints; `guard`: the checks every request passes and its log line;
//! - `http`: connections, limits and the drain.
//!
//! Start-up (S16): bind first, answer 503 `{"status": "starting"}` while snapshot 1 is
//! computed (and a state file replayed), then write `listening on http://ADDR` to stderr.

mod auth;
mod body;
mod engine;
mod guard;
mod history;
mod http;
mod replay;
mod reply;
mod routes;
mod schema;
mod state;
mod store;
mod warm;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::cli::serve::{ServeArgs, load};
use engine::Engine;
use state::Service;

/// Runs the service until SIGTERM or SIGINT; the exit code of SPEC §8.
pub fn run(args: &ServeArgs) -> ExitCode {
    match checked_listen(args) {
        Ok((addrs, token)) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(1, format!("cannot start the runtime: {e}")),
            };
            let code = runtime.block_on(serve(args, addrs, token));
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            code
        }
        Err((code, message)) => fail(code, message),
    }
}

fn fail(code: u8, message: String) -> ExitCode {
    let message = crate::error::terminal_safe(&message);
    eprintln!("tailrisk: error: {message}");
    ExitCode::from(code)
}

/// The token, and the addresses of `--listen`: without a token every one must be loopback
/// (S15, exit 65); a `--max-body-bytes` of 0 is 65 as the other flags out of range are.
fn checked_listen(args: &ServeArgs) -> Result<(Vec<SocketAddr>, Option<Vec<u8>>), auth::Refusal> {
    if args.max_body_bytes == 0 {
        return Err((
            65,
            format!(
                "command line: --max-body-bytes: must be an integer from 1 to {} (got 0)",
                u64::MAX
            ),
        ));
    }
    let token = args
        .token_file
        .as_deref()
        .map(auth::read_token)
        .transpose()?;
    let addrs = auth::resolve_listen(&args.listen)?;
    let open = addrs.iter().any(|a| !auth::is_loopback(a.ip()));
    if open && token.is_none() {
        return Err((
            65,
            format!(
                "command line: --listen: {} is not a loopback address; without --token-file the \
                 server listens on loopback only",
                args.listen
            ),
        ));
    }
    if open {
        eprintln!(
            "tailrisk: warning: serving plain HTTP on {}: put a TLS-terminating proxy in front",
            args.listen
        );
    }
    Ok((addrs, token))
}

async fn serve(args: &ServeArgs, addrs: Vec<SocketAddr>, token: Option<Vec<u8>>) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(&addrs[..]).await {
        Ok(l) => l,
        Err(e) => return fail(1, format!("cannot listen on {}: {e}", args.listen)),
    };
    let local = listener.local_addr().ok();
    if let Some(addr) = local {
        eprintln!("tailrisk: bound to {addr}; computing snapshot 1 (503 until live)");
    }
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<(u8, String)>();
    let draining = Arc::new(AtomicBool::new(false));
    let service_slot: Arc<std::sync::OnceLock<Arc<Service>>> = Arc::default();
    let app = guard::app(
        service_slot.clone(),
        draining.clone(),
        token,
        args.max_body_bytes,
    );
    let start_args = args.clone();
    let slot = service_slot.clone();
    tokio::spawn(async move {
        let started = start(start_args, slot).await;
        match started {
            Ok(()) => match local {
                Some(addr) => eprintln!("tailrisk: listening on http://{addr}"),
                None => eprintln!("tailrisk: listening"),
            },
            Err(failure) => {
                let _ = failed_tx.send(failure);
            }
        }
    });
    let failure: Arc<std::sync::Mutex<Option<(u8, String)>>> = Arc::default();
    let failure_slot = failure.clone();
    let shutdown = async move {
        tokio::select! {
            () = signal() => {}
            Ok(f) = failed_rx => { *failure_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(f); }
        }
    };
    let drained = http::serve(listener, app, draining, shutdown).await;
    if let Some((code, message)) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
        return fail(code, message);
    }
    if let Some(service) = service_slot.get().cloned() {
        let _ = tokio::task::spawn_blocking(move || service.close()).await;
    }
    if drained {
        ExitCode::SUCCESS
    } else {
        fail(1, "requests still in flight after 30 s; exiting".into())
    }
}

/// Loads the inputs, opens the state file, computes snapshot 1 and replays the file (on the
/// blocking pool), then makes the service live.
async fn start(
    args: ServeArgs,
    slot: Arc<std::sync::OnceLock<Arc<Service>>>,
) -> Result<(), (u8, String)> {
    let loaded = tokio::task::spawn_blocking(move || {
        let loaded = load(&args).map_err(|e| (e.exit_code(), e.to_string()))?;
        let store = match &args.state {
            Some(path) => {
                let parts = schema::parts(&loaded.digest, &loaded.flags);
                Some(store::Store::open(path, &parts).map_err(|e| (e.code, e.message))?)
            }
            None => None,
        };
        let engine = Engine::new(loaded.backend, args.common.threads);
        let (snapshot, ledger) = replay::start(&engine, loaded.inputs, loaded.document, store)
            .map_err(|e| (e.code, e.message))?;
        Ok::<_, (u8, String)>((engine, snapshot, ledger))
    })
    .await
    .map_err(|e| (1, format!("start-up failed: {e}")))?;
    let (engine, snapshot, ledger) = loaded?;
    let service = Service::new(engine);
    service.go_live(snapshot, ledger);
    let _ = slot.set(service);
    Ok(())
}

/// SIGTERM or SIGINT.
async fn signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
