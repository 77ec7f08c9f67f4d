//! The real `tailrisk serve` binary on an ephemeral loopback port, a minimal HTTP/1.1 client
//! over std sockets, and the CLI to compare with. A [`Server`] is always killed when dropped,
//! so a failing test leaves no process behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_tailrisk");

/// The inputs every test uses: the sample book at few paths on the CPU reference.
pub fn sample_args(paths: u64) -> Vec<String> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    vec![
        "--market".into(),
        data.join("market.json").display().to_string(),
        "--portfolio".into(),
        data.join("portfolio.json").display().to_string(),
        "--config".into(),
        data.join("config.json").display().to_string(),
        "--paths".into(),
        paths.to_string(),
        "--backend".into(),
        "cpu".into(),
    ]
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// A fresh temporary directory under the target directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailrisk-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

/// A server that exited before it was listening: its exit code and stderr.
#[derive(Debug)]
pub struct Refused {
    pub code: Option<i32>,
    pub stderr: String,
}

impl Server {
    /// Starts `tailrisk serve ARGS --listen 127.0.0.1:0` and waits for "listening on".
    pub fn start(args: &[String]) -> Server {
        Self::try_start(args).unwrap_or_else(|r| panic!("server did not start: {r:?}"))
    }

    pub fn try_start(args: &[String]) -> Result<Server, Refused> {
        let server = Self::spawn(args);
        server.wait_for("listening on http://", Duration::from_secs(90))
    }

    /// Starts the server and returns as soon as it is bound (it may still be starting).
    pub fn spawn(args: &[String]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(args);
        if !args.iter().any(|a| a == "--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tailrisk serve");
        let stderr = child.stderr.take().unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server {
            child: Some(child),
            port: 0,
            stderr: lines,
        }
    }

    /// Waits for a stderr line containing `marker` (taking the port from "bound to" or
    /// "listening on"), or for the process to exit.
    pub fn wait_for(mut self, marker: &str, limit: Duration) -> Result<Server, Refused> {
        let started = Instant::now();
        loop {
            let lines = self.stderr.lock().unwrap().clone();
            for line in &lines {
                if let Some(addr) = line
                    .split("listening on http://")
                    .nth(1)
                    .or_else(|| line.split("bound to ").nth(1))
                {
                    let port: String = addr
                        .rsplit(':')
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    self.port = port.parse().unwrap_or(0);
                }
            }
            if lines.iter().any(|l| l.contains(marker)) {
                return Ok(self);
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return Err(Refused {
                    code: status.code(),
                    stderr: self.stderr.lock().unwrap().join("\n"),
                });
            }
            assert!(
                started.elapsed() < limit,
                "server did not print {marker:?}: {lines:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client of a server started elsewhere (no process to kill).
    pub fn probe(port: u16) -> Server {
        Server {
            child: None,
            port,
            stderr: Arc::default(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal (`TERM`, `KILL`, `INT`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "server still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body),
        )
    }

    pub fn put(&self, path: &str, body: &str) -> Reply {
        self.request(
            "PUT",
            path,
            &[("Content-Type", "application/json")],
            Some(body),
        )
    }

    /// A POST as [`Server::post`], or `None` when the server is gone: the connection refused
    /// or the request not written (a server killed between or during requests).
    pub fn try_post(&self, path: &str, body: &str) -> Option<Reply> {
        let bytes = self.request_bytes(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body),
        );
        self.try_raw(&bytes).ok()
    }

    /// One request on its own connection (`Host: 127.0.0.1:PORT` unless given).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let raw = self.request_bytes(method, path, headers, body);
        self.raw(&raw)
    }

    /// The bytes of one request (`Host: 127.0.0.1:PORT` unless given).
    fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Vec<u8> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head += &format!("Host: 127.0.0.1:{}\r\n", self.port);
        }
        for (k, v) in headers {
            head += &format!("{k}: {v}\r\n");
        }
        if let Some(b) = body {
            head += &format!("Content-Length: {}\r\n", b.len());
        }
        head += "\r\n";
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body.unwrap_or("").as_bytes());
        raw
    }

    /// Sends raw bytes on a new connection and reads the answer to the end.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        self.try_raw(bytes).expect("connect and send")
    }

    /// As [`Server::raw`], or the error of connecting or sending.
    pub fn try_raw(&self, bytes: &[u8]) -> std::io::Result<Reply> {
        let mut stream = self.try_connect()?;
        stream.write_all(bytes)?;
        Ok(read_reply(&mut stream))
    }

    pub fn connect(&self) -> TcpStream {
        self.try_connect().expect("connect")
    }

    fn try_connect(&self) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error` message of a failure, checking the body's shape.
    pub fn error(&self) -> String {
        let v = self.json();
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", self.body))
            .to_string()
    }
}

/// Reads one answer until the connection closes (the client always sends `Connection:
/// close`); a connection reset before any byte gives status 0.
pub fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_reply(&raw)
}

pub fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).to_string();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Reply {
            status: 0,
            headers: Vec::new(),
            body: text,
        };
    };
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out += &rest[..n];
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `tailrisk ARGS --format json` → its JSON.
pub fn cli_json(args: &[String]) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tailrisk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `args` with the value of `flag` replaced.
pub fn with_flag(args: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut out = args.to_vec();
    match out.iter().position(|a| a == flag) {
        Some(i) => out[i + 1] = value.to_string(),
        None => out.extend([flag.to_string(), value.to_string()]),
    }
    out
}

/// The account `id` of a `run` report.
pub fn report_account<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no account {id}"))
}
