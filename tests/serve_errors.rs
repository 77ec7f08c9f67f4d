//! `tailrisk serve`: every error status with its JSON body (400 naming field and value,
//! 401, 403, 404, 405 + Allow, 408, 413, 415, 503), the token, and the start-up refusals
//! with their exit codes.

mod serve_support;

use serve_support::*;

const PATHS: u64 = 20_000;

#[test]
fn bad_requests_are_named_and_change_nothing() {
    let server = Server::start(&sample_args(PATHS));
    let expect = |reply: Reply, status: u16, words: &[&str]| {
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let message = reply.error();
        for w in words {
            assert!(message.contains(w), "{message:?} should contain {w:?}");
        }
    };
    let add = r#"[{"instrument": "BTC-PERPETUAL", "quantity": 10}]"#;
    expect(
        server.post(
            "/v1/whatif",
            &format!(r#"{{"account": "pair-trade", "add": {add}, "extra": 1}}"#),
        ),
        400,
        &["extra"],
    );
    expect(
        server.post(
            "/v1/whatif",
            &format!(r#"{{"account": "pair-trade", "account": "x", "add": {add}}}"#),
        ),
        400,
        &["duplicate", "account"],
    );
    expect(server.post("/v1/whatif", r#"{"account": "pair-trade", "add": [{"instrument": "BTC-PERPETUAL", "quantity": 1e400}]}"#), 400, &["add[0].quantity", "1e400", "finite"]);
    expect(
        server.post(
            "/v1/whatif",
            r#"{"account": "pair-trade", "add": [{"instrument": "BTC-32DEC26", "quantity": 1}]}"#,
        ),
        400,
        &["add[0].instrument", "BTC-32DEC26"],
    );
    expect(
        server.post("/v1/whatif", r#"{"account": "pair-trade", "add": ["#),
        400,
        &["line 1", "invalid JSON"],
    );
    expect(
        server.post(
            "/v1/whatif",
            r#"{"account": "nobody", "add": [{"instrument": "BTC", "quantity": 1}]}"#,
        ),
        404,
        &["POST /v1/whatif: account: ", "nobody"],
    );
    // An error the added positions cause later (a figure no longer finite) is the
    // request's, with where it surfaced.
    let huge = server.post(
        "/v1/whatif",
        r#"{"account": "vol-seller", "add": [{"instrument": "BTC", "quantity": 1e300}]}"#,
    );
    expect(
        huge,
        400,
        &["POST /v1/whatif: after this change, ", "vol-seller"],
    );
    // An empty body, and one that is not UTF-8, name the request.
    expect(
        server.post("/v1/whatif", "  "),
        400,
        &["POST /v1/whatif: body: empty (expected a JSON object)"],
    );
    let latin1 = server.raw(
        b"POST /v1/margin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 10\r\n\r\n{\"id\":\"\xe9\"}",
    );
    expect(latin1, 400, &["POST /v1/margin: body: byte 7", "not UTF-8"]);
    expect(
        server.post(
            "/v1/margin",
            r#"{"positions": [{"instrument": "XRP-PERPETUAL", "quantity": 1}]}"#,
        ),
        400,
        &["XRP"],
    );
    expect(
        server.post(
            "/v1/margin",
            r#"{"margin_currency": "usd", "positions": []}"#,
        ),
        400,
        &["margin_currency"],
    );
    let eur = server.post(
        "/v1/margin",
        r#"{"margin_currency": "EUR", "positions": [{"instrument": "BTC", "quantity": 1}]}"#,
    );
    expect(eur, 400, &["POST /v1/margin: margin_currency: ", "EUR"]);

    // One bad row rejects the whole trade (S7): nothing changes.
    let before = server.get("/v1/accounts/pair-trade").json();
    expect(server.post("/v1/accounts/pair-trade/trades", r#"{"add": [{"instrument": "BTC-PERPETUAL", "quantity": 5}, {"instrument": "DOGE-PERPETUAL", "quantity": 1}]}"#), 400, &["add[1].instrument", "DOGE"]);
    expect(server.post("/v1/accounts/pair-trade/trades", r#"{"add": [{"instrument": "BTC-PERPETUAL", "quantity": 5}, {"instrument": "BTC", "quantity": "x"}]}"#), 400, &["add[1].quantity"]);
    expect(
        server.post(
            "/v1/accounts/nobody/trades",
            &format!(r#"{{"add": {add}}}"#),
        ),
        404,
        &["nobody"],
    );
    assert_eq!(server.get("/v1/accounts/pair-trade").json(), before);

    // Market updates: a new asset, an unknown field, a bad value, an as_of past a held expiry.
    expect(
        server.put("/v1/market", r#"{"assets": {"XRP": {"spot": 1}}}"#),
        400,
        &["assets.XRP"],
    );
    expect(
        server.put(
            "/v1/market",
            r#"{"assets": {"BTC": {"spot": 1, "colour": 2}}}"#,
        ),
        400,
        &["colour"],
    );
    expect(
        server.put("/v1/market", r#"{"assets": {"BTC": {"spot": -3}}}"#),
        400,
        &["assets.BTC.spot", "-3"],
    );
    expect(
        server.put("/v1/market", r#"{"as_of": "yesterday"}"#),
        400,
        &["as_of", "yesterday"],
    );
    expect(
        server.put("/v1/market", r#"{"as_of": "2026-12-05T08:00:00Z", "assets": {"BTC": {"vol": 0.5}, "ETH": {"vol": 0.6}, "SOL": {"vol": 0.8}}}"#),
        400,
        // The request is named first, then where the change surfaced (the portfolio file).
        &["PUT /v1/market: after this change, ", "portfolio.json", "4DEC26"],
    );
    // S9 names the instrument even when the market's own surface expiries are past the new
    // as_of too (they would otherwise be named first).
    expect(
        server.put("/v1/market", r#"{"as_of": "2026-12-05T08:00:00Z"}"#),
        400,
        &[
            "PUT /v1/market: after this change, ",
            "portfolio.json",
            "expired",
        ],
    );
    expect(
        server.put(
            "/v1/market",
            r#"{"correlation": {"symbols": ["BTC"], "matrix": [[1.0]]}}"#,
        ),
        400,
        &["correlation"],
    );
    assert_eq!(
        server.get("/v1/health").json()["snapshot"],
        1,
        "rejected changes change nothing"
    );

    // 404 route and account, 405 with Allow, 415, bad query.
    expect(server.get("/v1/nowhere"), 404, &["/v1/nowhere"]);
    expect(
        server.get("/v1/accounts/nobody"),
        404,
        &["GET /v1/accounts/nobody: path: ", "\"nobody\""],
    );
    expect(server.get("/v1/accounts/nobody/history"), 404, &["nobody"]);
    let reply = server.request("DELETE", "/v1/market", &[], None);
    assert_eq!(reply.header("allow"), Some("PUT"));
    expect(reply, 405, &["DELETE", "/v1/market"]);
    expect(
        server.request("POST", "/v1/whatif", &[], Some("{}")),
        415,
        &["application/json"],
    );
    expect(
        server.request(
            "POST",
            "/v1/whatif",
            &[("Content-Type", "text/plain")],
            Some("{}"),
        ),
        415,
        &["application/json"],
    );
    expect(
        server.get("/v1/accounts/pair-trade/history?limit=x"),
        400,
        &["limit"],
    );
    expect(
        server.get("/v1/accounts/pair-trade/history?page=2"),
        400,
        &["page"],
    );
    expect(
        server.get("/v1/accounts/pair-trade/history?since=1&since=2"),
        400,
        &["since", "more than once"],
    );
    expect(
        server.get("/v1/accounts/pair-trade/history?limit=99999999999999999999"),
        400,
        &[
            "GET /v1/accounts/pair-trade/history: query: limit: ",
            "from 0 to 18446744073709551615",
        ],
    );

    // Bytes that are not an HTTP/1.1 request: hyper answers them itself, with the same JSON
    // error body as every other error.
    for (raw, status, word) in [
        (&b"FOO\r\n\r\n"[..], 400, "not an HTTP/1.1 request"),
        (
            b"POST /v1/whatif HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
            400,
            "not an HTTP/1.1 request",
        ),
        (
            b"GET /v1/health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
            400,
            "not an HTTP/1.1 request",
        ),
        // Two Host headers are 400 (RFC 9112 §3.2), even when both are loopback.
        (
            b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            400,
            "more than one Host",
        ),
    ] {
        expect(server.raw(raw), status, &[word]);
    }
    // A good request on a fresh connection still gets its own answer.
    assert_eq!(server.get("/v1/health").status, 200);

    // Without a token: only loopback Host headers (S13); no CORS headers.
    expect(
        server.request("GET", "/v1/health", &[("Host", "evil.example.com")], None),
        403,
        &["evil.example.com"],
    );
    // A request target in absolute form names the host (RFC 9112 §3.2.2): a loopback Host
    // header does not let another host through, nor does another Host stop a loopback one.
    expect(
        server.raw(b"GET http://evil.example.com/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        403,
        &["evil.example.com"],
    );
    let absolute = server.raw(
        b"GET http://127.0.0.1/v1/health HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(absolute.status, 200, "{}", absolute.body);
    for host in [
        "localhost",
        &format!("localhost:{}", server.port),
        "[::1]:80",
        "127.0.0.2",
    ] {
        let reply = server.request("GET", "/v1/health", &[("Host", host)], None);
        assert_eq!(reply.status, 200, "{host}");
        assert!(
            reply
                .headers
                .iter()
                .all(|(k, _)| !k.to_ascii_lowercase().starts_with("access-control"))
        );
    }
}

#[test]
fn bodies_over_the_limit_are_413() {
    let mut args = sample_args(PATHS);
    args.extend(["--max-body-bytes".to_string(), "1000".to_string()]);
    let server = Server::start(&args);
    // A Content-Length over the limit is refused before the body is sent.
    let mut stream = server.connect();
    use std::io::Write;
    let head = "POST /v1/whatif HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                Content-Length: 5000\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    let reply = read_reply(&mut stream);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.error().contains("1000"));
    // A chunked body is counted decoded: 2 × 600 bytes is over, 2 × 400 is not.
    let chunked = |size: usize| {
        let chunk = " ".repeat(size);
        let mut raw =
            "POST /v1/whatif HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                       Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .to_string();
        for _ in 0..2 {
            raw += &format!("{:x}\r\n{chunk}\r\n", chunk.len());
        }
        raw += "0\r\n\r\n";
        server.raw(raw.as_bytes())
    };
    assert_eq!(chunked(600).status, 413);
    let under = chunked(400);
    assert_eq!(
        under.status, 400,
        "whitespace only is not a body: {}",
        under.body
    );
    assert_eq!(server.get("/v1/health").status, 200);
}

#[test]
fn token_guards_every_route() {
    let dir = temp_dir("token");
    let token_file = dir.join("token");
    std::fs::write(
        &token_file,
        "  s3cr3t-token-of-32-bytes-long!!  \nsecond line\n",
    )
    .unwrap();
    let mut args = sample_args(PATHS);
    args.extend(["--token-file".to_string(), token_file.display().to_string()]);
    let server = Server::start(&args);
    let auth = "Bearer s3cr3t-token-of-32-bytes-long!!";
    for path in [
        "/v1/health",
        "/v1/accounts",
        "/v1/accounts/pair-trade",
        "/v1/nowhere",
    ] {
        let reply = server.get(path);
        assert_eq!(reply.status, 401, "{path}");
        assert_eq!(
            reply
                .header("www-authenticate")
                .map(|h| h.starts_with("Bearer")),
            Some(true)
        );
        reply.error();
    }
    let wrong = server.request(
        "GET",
        "/v1/health",
        &[("Authorization", "Bearer s3cr3t-token-of-32-bytes-long!?")],
        None,
    );
    assert_eq!(wrong.status, 401);
    let post = server.request(
        "POST",
        "/v1/whatif",
        &[("Content-Type", "application/json")],
        Some("{}"),
    );
    assert_eq!(post.status, 401);
    let ok = server.request(
        "GET",
        "/v1/health",
        &[("Authorization", auth), ("Host", "risk.example.com")],
        None,
    );
    assert_eq!(ok.status, 200, "with a token any Host is served");
    // The scheme is case-insensitive (RFC 9110 §11.1); two Authorization headers are 400.
    let lower = server.request(
        "GET",
        "/v1/health",
        &[("Authorization", "bearer s3cr3t-token-of-32-bytes-long!!")],
        None,
    );
    assert_eq!(lower.status, 200, "{}", lower.body);
    let twice = server.request(
        "GET",
        "/v1/health",
        &[("Authorization", auth), ("Authorization", "Bearer other")],
        None,
    );
    assert_eq!(twice.status, 400, "{}", twice.body);
    assert!(twice.error().contains("more than one Authorization"));
    assert!(
        !server.stderr_text().contains("s3cr3t"),
        "the token is never logged"
    );
}

#[test]
fn start_up_refusals_have_their_exit_codes() {
    let dir = temp_dir("refusals");
    let short = dir.join("short");
    std::fs::write(&short, "too-short\n").unwrap();
    let good = dir.join("good");
    std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--listen", "0.0.0.0:0"], 65, "loopback"),
        (vec!["--listen", "[::]:0"], 65, "loopback"),
        (vec!["--listen", "not an address"], 65, "--listen"),
        (
            vec!["--token-file", short.to_str().unwrap()],
            65,
            "16 bytes",
        ),
        (
            vec!["--token-file", "/nonexistent/token"],
            66,
            "/nonexistent/token",
        ),
        (vec!["--seed", "x"], 2, "--seed"),
        (vec!["--max-body-bytes", "0"], 65, "--max-body-bytes"),
        (
            vec!["--state", "/nonexistent/dir/state.db"],
            73,
            "cannot create state file /nonexistent/dir/state.db",
        ),
    ];
    let zero = with_flag(&sample_args(PATHS), "--paths", "0");
    let refused = Server::try_start(&zero).err().expect("zero paths started");
    assert_eq!(refused.code, Some(65), "{}", refused.stderr);
    assert!(refused.stderr.contains("--paths"), "{}", refused.stderr);
    for (extra, code, words) in cases {
        let mut args = sample_args(PATHS);
        args.extend(extra.iter().map(|s| s.to_string()));
        let refused = Server::try_start(&args)
            .err()
            .unwrap_or_else(|| panic!("{extra:?} started"));
        assert_eq!(refused.code, Some(code), "{extra:?}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(words),
            "{extra:?}: {}",
            refused.stderr
        );
    }
    // localhost resolves to loopback; a non-loopback address with a token starts, warning.
    let mut args = sample_args(PATHS);
    args.extend(["--listen", "localhost:0"].map(String::from));
    let server = Server::start(&args);
    assert_eq!(server.get("/v1/health").status, 200);
    let mut args = sample_args(PATHS);
    args.extend(
        [
            "--listen",
            "0.0.0.0:0",
            "--token-file",
            good.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let open = Server::start(&args);
    assert!(open.stderr_text().contains("TLS"), "{}", open.stderr_text());
    // A port in use fails at once.
    let mut args = sample_args(PATHS);
    args.extend(["--listen".to_string(), format!("127.0.0.1:{}", server.port)]);
    let refused = Server::try_start(&args).err().expect("port in use");
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
}

#[test]
fn starting_then_live() {
    // Enough paths that snapshot 1 takes a moment: requests meanwhile are 503 starting.
    let server = Server::spawn(&sample_args(1_000_000))
        .wait_for("bound to", std::time::Duration::from_secs(30))
        .unwrap();
    let first = server.get("/v1/health");
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(first.json()["status"], "starting");
    let server = server
        .wait_for("listening on", std::time::Duration::from_secs(120))
        .unwrap();
    assert_eq!(server.get("/v1/health").json()["status"], "ok");
}

#[test]
fn connections_and_timeouts() {
    let server = Server::start(&sample_args(PATHS));
    // A head or a body not received whole within 10 s is 408 (both at once: one wait).
    let slow_head = std::thread::scope(|s| {
        let head = s.spawn(|| {
            use std::io::Write;
            let mut stream = server.connect();
            stream
                .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127")
                .unwrap();
            read_reply(&mut stream)
        });
        let body = s.spawn(|| {
            use std::io::Write;
            let mut stream = server.connect();
            stream
                .write_all(b"POST /v1/whatif HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"acc")
                .unwrap();
            read_reply(&mut stream)
        });
        (head.join().unwrap(), body.join().unwrap())
    });
    let (head, body) = slow_head;
    assert_eq!(head.status, 408, "{head:?}");
    assert_eq!(body.status, 408, "{body:?}");
    body.error();
    // At most 256 connections: the 257th is answered 503.
    let idle: Vec<_> = (0..256).map(|_| server.connect()).collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let busy = server.get("/v1/health");
    assert_eq!(busy.status, 503, "{}", busy.body);
    busy.error();
    drop(idle);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(server.get("/v1/health").status, 200);
}
