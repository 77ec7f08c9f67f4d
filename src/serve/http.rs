//! Connections (S17, S18): HTTP/1.1 with keep-alive on hyper, at most [`MAX_CONNECTIONS`]
//! (beyond: one 503 and close), 408 for a request whose head is not received within
//! [`REQUEST_TIMEOUT`], idle keep-alive connections closed after [`IDLE_TIMEOUT`], the JSON
//! error body on hyper's own answers to bytes that are not a request
//! ([`parse_error_answer`]), and the drain on shutdown: stop accepting, finish every request
//! whose head was read, close idle connections, within [`DRAIN_TIMEOUT`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use super::body::REQUEST_TIMEOUT;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// A keep-alive connection without a request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a drain may take before the process gives up (exit 1).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` completes, then drains; `true` when every
/// connection finished within [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    draining: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(AtomicUsize::new(0));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors and the like: wait a little rather than spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let slot = Slot::take(&open);
        if open.load(Ordering::SeqCst) > MAX_CONNECTIONS {
            tokio::spawn(refuse_busy(stream, slot));
            continue;
        }
        let state = Arc::new(HeadTimer::default());
        let io = TokioIo::new(TimedIo::new(stream, state.clone()));
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let app = app.clone();
            let state = state.clone();
            state.in_request.store(true, Ordering::SeqCst);
            async move {
                let response = tower::ServiceExt::oneshot(app, request).await;
                state.in_request.store(false, Ordering::SeqCst);
                response
            }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(IDLE_TIMEOUT)
            .keep_alive(true)
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    draining.store(true, Ordering::SeqCst);
    tokio::select! {
        () = graceful.shutdown() => true,
        () = tokio::time::sleep(DRAIN_TIMEOUT) => false,
    }
}

/// One open connection, counted until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Slot(open.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection beyond [`MAX_CONNECTIONS`]: its first request gets 503, then it is closed.
async fn refuse_busy(stream: TcpStream, slot: Slot) {
    let service = hyper::service::service_fn(|_request: hyper::Request<Incoming>| async {
        let body = r#"{"error":"too many connections (at most 256)"}"#;
        let response = hyper::Response::builder()
            .status(503)
            .header("content-type", "application/json")
            .header("connection", "close")
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
            .unwrap_or_default();
        Ok::<_, Infallible>(response)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, conn).await;
    drop(slot);
}

/// Whether a request is being answered on a connection (its head was read): bytes read
/// meanwhile are its body, not a new head.
#[derive(Default)]
struct HeadTimer {
    in_request: AtomicBool,
}

/// The connection's socket, answering 408 itself when bytes of a request head have been
/// arriving for [`REQUEST_TIMEOUT`] without the head completing (hyper only closes).
struct TimedIo {
    inner: TcpStream,
    state: Arc<HeadTimer>,
    /// Armed by the first byte read outside a request.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes of a rewritten parse-error answer not yet written ([`parse_error_answer`]).
    pending: Vec<u8>,
}

const TIMEOUT_RESPONSE: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n\
content-length: 58\r\nconnection: close\r\n\r\n{\"error\":\"the request was not received whole within 10 s\"}";

impl TimedIo {
    fn new(inner: TcpStream, state: Arc<HeadTimer>) -> Self {
        TimedIo {
            inner,
            state,
            deadline: None,
            pending: Vec::new(),
        }
    }

    /// Writes what is left of a rewritten answer; ready once none is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// hyper's own answer to bytes that are not an HTTP/1.1 request (a bad request line or
/// header, a URI or head too long, another HTTP version) is a bare status with an empty
/// body, written without calling the service; the routes' answers always carry a JSON
/// `content-type`. This gives the bare one the JSON error body every error has (S12):
/// `None` for any other write.
fn parse_error_answer(data: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(data).ok()?.strip_suffix("\r\n\r\n")?;
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let headers: Vec<&str> = headers.split("\r\n").filter(|h| !h.is_empty()).collect();
    let has = |name: &str, value: Option<&str>| {
        headers
            .iter()
            .any(|h| header_value(h, name).is_some_and(|v| value.is_none_or(|want| v == want)))
    };
    if !(400..600).contains(&status)
        || has("content-type", None)
        || !has("content-length", Some("0"))
    {
        return None;
    }
    let error = match status {
        414 => "the request target is too long",
        431 => "the request head is too large",
        505 => "only HTTP/1.1 (and 1.0) requests are served",
        _ => "not an HTTP/1.1 request: its request line or a header could not be parsed",
    };
    let body = serde_json::json!({ "error": error }).to_string();
    let mut out = format!("{status_line}\r\ncontent-type: application/json");
    for h in headers
        .iter()
        .filter(|h| header_value(h, "content-length").is_none())
    {
        out.push_str("\r\n");
        out.push_str(h);
    }
    out.push_str(&format!("\r\ncontent-length: {}\r\n\r\n{body}", body.len()));
    Some(out.into_bytes())
}

/// The trimmed value of header line `line` when it is header `name` (any case).
fn header_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (n, v) = line.split_once(':')?;
    n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let in_request = this.state.in_request.load(Ordering::SeqCst);
        if in_request {
            this.deadline = None;
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if !in_request && buf.filled().len() > before && this.deadline.is_none() {
                    this.deadline = Some(Box::pin(tokio::time::sleep(REQUEST_TIMEOUT)));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if let Some(deadline) = this.deadline.as_mut()
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    // Best effort: the answer is small enough for the socket's buffer.
                    let _ = this.inner.try_write(TIMEOUT_RESPONSE);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not received in time",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A response written ends the request: the next head starts its own clock.
        self.deadline = None;
        let this = &mut *self;
        if this.poll_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        if let Some(answer) = parse_error_answer(data) {
            // The whole of `data` is taken; its replacement goes out now or on flush.
            this.pending = answer;
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(data.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
