//! The HTML reports in a real browser (SPEC §12): each page (run, stress, a merged run of two
//! shards, backtest) is opened in headless Chromium, which takes a screenshot (sane
//! dimensions, not blank against an empty page), dumps the DOM (the SVG charts are there),
//! logs its console (no message: the pages run no script, so any console line is an error
//! such as a failed load) and its network (no request made on behalf of the page). A deliberately bad page (an external
//! image, a console error) shows that the checks can fail.
//!
//! Skipped loudly without Chromium; mandatory with `TAILRISK_REQUIRE_CHROMIUM=1` (CI). Every
//! Chromium runs in its own process group, killed whole when it ends or times out.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REQUIRE_ENV: &str = "TAILRISK_REQUIRE_CHROMIUM";
/// Longest a page may take in the browser before it is killed.
const TIMEOUT: Duration = Duration::from_secs(90);
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2400;

/// Chromium, or `None` with a loud SKIPPED (a failure under `TAILRISK_REQUIRE_CHROMIUM=1`).
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("TAILRISK_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE_ENV}=1 but no Chromium (/usr/bin/chromium)");
        }
        eprintln!("\n==================================================================");
        eprintln!("SKIPPED: no Chromium; the HTML reports were not opened in a browser");
        eprintln!("         install Debian's `chromium`; {REQUIRE_ENV}=1 makes this a failure");
        eprintln!("==================================================================");
    }
    found
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailrisk-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The processes of process group `pgid` still alive.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the ")" of the command: state, ppid, pgrp.
            let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let fields: Vec<&str> = after.split_whitespace().collect();
            fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) && fields[0] != "Z"
        })
        .collect()
}

/// Kills every process of group `pgid`, by their positive pids (a negative pid on a `kill`
/// command line can be read as an option), until none is left.
fn kill_group(pgid: u32) {
    let start = Instant::now();
    loop {
        let members = group_members(pgid);
        if members.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Chromium processes survived: {members:?}"
        );
        let pids: Vec<String> = members.iter().map(u32::to_string).collect();
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What Chromium made of one page.
struct Visit {
    png: Vec<u8>,
    dom: String,
    log: String,
    netlog: String,
}

/// Runs Chromium on `page` with `mode` (`--screenshot=…` or `--dump-dom`), in a fresh
/// profile, in its own process group; returns (stdout, stderr).
fn chromium_run(chrome: &Path, page: &Path, dir: &Path, mode: &[String]) -> (String, String) {
    let profile = dir.join(format!("profile-{}", mode.len()));
    let out = dir.join("stdout");
    let err = dir.join("stderr");
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .args(mode)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("Chromium starts");
    let pgid = child.id();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    kill_group(pgid);
    let _ = child.wait();
    let status = status.unwrap_or_else(|| panic!("Chromium timed out on {}", page.display()));
    assert!(
        status.success(),
        "Chromium failed on {}: {status}",
        page.display()
    );
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (read(&out), read(&err))
}

/// Opens `page` twice: a screenshot (with the console and network logged) and a DOM dump.
fn visit(chrome: &Path, page: &Path) -> Visit {
    let dir = page.with_extension("chromium");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("shot.png");
    let netlog = dir.join("net.json");
    let shot = [
        format!("--screenshot={}", png.display()),
        format!("--log-net-log={}", netlog.display()),
    ];
    let (_, log) = chromium_run(chrome, page, &dir, &shot);
    let (dom, _) = chromium_run(chrome, page, &dir, &["--dump-dom".to_string()]);
    Visit {
        png: std::fs::read(&png).expect("a screenshot"),
        dom,
        log,
        netlog: std::fs::read_to_string(&netlog).unwrap_or_default(),
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG"
    );
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Console lines (the pages run no script: any is an error, e.g. a resource that failed).
fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// URLs requested on behalf of the page (network isolation key of the file:// page), not
/// Chromium's own background requests; file: and data: URLs are the page itself.
fn page_requests(netlog: &str) -> Vec<String> {
    let text = netlog.trim_end().trim_end_matches(',');
    let value: serde_json::Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&format!("{text}]}}")))
        .expect("the net log parses");
    let mut urls: Vec<String> = value["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let p = &e["params"];
            let key = p["network_isolation_key"].as_str()?;
            let url = p["url"].as_str()?;
            (key.contains("file://") && !url.starts_with("file:") && !url.starts_with("data:"))
                .then(|| url.to_string())
        })
        .collect();
    urls.dedup();
    urls
}

/// `merge --report` of the run page's two shards: the page of the merged run.
fn merged_page(dir: &Path) -> PathBuf {
    let bin = env!("CARGO_BIN_EXE_tailrisk");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let shards: Vec<String> = (0..2)
        .map(|i| dir.join(format!("s{i}.trs")).display().to_string())
        .collect();
    for (i, shard) in shards.iter().enumerate() {
        let spec = format!("{i}/2");
        run(&[
            "run",
            "--paths",
            "4000",
            "--backend",
            "cpu",
            "--shard",
            &spec,
            "--shard-file",
            shard,
        ]);
    }
    let file = dir.join("merge.html");
    let page = file.display().to_string();
    run(&["merge", &shards[0], &shards[1], "--report", &page]);
    file
}

/// Writes the run, stress, merged run and backtest pages into `dir`.
fn write_pages(dir: &Path) -> Vec<(PathBuf, &'static str, usize)> {
    let bin = env!("CARGO_BIN_EXE_tailrisk");
    let mut pages = Vec::new();
    for (command, min_svgs) in [("run", 20), ("stress", 10)] {
        let file = dir.join(format!("{command}.html"));
        let out = Command::new(bin)
            .args([command, "--paths", "4000", "--backend", "cpu", "--report"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        pages.push((file, command, min_svgs));
    }
    pages.push((merged_page(dir), "merge", 20));
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/backtest_report.json"
    );
    let text = std::fs::read_to_string(fixture).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let html = tailrisk::report::html::backtest_page(&value, &text).unwrap();
    let file = dir.join("backtest.html");
    std::fs::write(&file, html).unwrap();
    pages.push((file, "backtest", 4));
    // A real backtest page too: hs on the shipped history over its last 60 days.
    let data = |f: &str| format!("{}/data/history/{f}", env!("CARGO_MANIFEST_DIR"));
    let file = dir.join("backtest-real.html");
    let out = Command::new(bin)
        .args(["backtest", "--history", &data("bitstamp_daily_close.csv")])
        .args(["--market", &data("market_2020-01-17.json")])
        .args(["--portfolio", &data("backtest_book.json")])
        .args([
            "--method",
            "hs",
            "--from",
            "2019-11-18",
            "--backend",
            "cpu",
            "--report",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pages.push((file, "backtest", 8));
    pages
}

#[test]
fn reports_render_in_chromium_without_errors_or_requests() {
    let Some(chrome) = chromium() else {
        return;
    };
    let dir = scratch_dir("pages");
    let empty = dir.join("empty.html");
    std::fs::write(&empty, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = visit(&chrome, &empty);
    assert_eq!(png_size(&blank.png), (WIDTH, HEIGHT));
    for (page, what, min_svgs) in write_pages(&dir) {
        let html = std::fs::read_to_string(&page).unwrap();
        common::html::assert_self_contained(&html);
        common::html::assert_figures_match_json(&html);
        let v = visit(&chrome, &page);
        assert_eq!(png_size(&v.png), (WIDTH, HEIGHT), "{what}: screenshot size");
        // Charts and tables compress far worse than an empty white page.
        assert!(
            v.png.len() > 5 * blank.png.len(),
            "{what}: screenshot of {} bytes looks blank (empty page: {})",
            v.png.len(),
            blank.png.len()
        );
        let svgs = v.dom.matches("<svg").count();
        assert!(svgs >= min_svgs, "{what}: {svgs} SVG charts in the DOM");
        assert!(
            v.dom.contains("id=\"tailrisk-report\""),
            "{what}: embedded JSON"
        );
        assert!(
            console_lines(&v.log).is_empty(),
            "{what}: {:?}",
            console_lines(&v.log)
        );
        assert!(
            page_requests(&v.netlog).is_empty(),
            "{what}: {:?}",
            page_requests(&v.netlog)
        );
    }
}

/// The checks above can fail: a page with an external image and a console error fails both.
#[test]
fn a_bad_page_fails_the_browser_checks() {
    let Some(chrome) = chromium() else {
        return;
    };
    let dir = scratch_dir("bad");
    let bad = dir.join("bad.html");
    std::fs::write(
        &bad,
        "<html><body><img src=\"http://192.0.2.1/x.png\"><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let v = visit(&chrome, &bad);
    assert!(
        !console_lines(&v.log).is_empty(),
        "the console error is seen"
    );
    assert_eq!(page_requests(&v.netlog), ["http://192.0.2.1/x.png"]);
    let _ = std::fs::remove_dir_all(&dir);
}
