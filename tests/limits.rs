//! Resource limits: a run whose tails cannot fit in memory fails before it allocates, as an
//! input error naming the figures and the limit (issue 14, item 4).

/// 2³² − 1 paths at 50 % confidence keep about 2·10⁹ losses per account: about 192 GiB of
/// tail candidates with two workers, more than any machine this runs on has available.
#[test]
fn tails_beyond_memory_are_an_input_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args([
            "run",
            "--backend",
            "cpu",
            "--paths",
            "4294967295",
            "--confidence",
            "0.5",
        ])
        .args(["--threads", "2"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    // The flags set the path count and the level: the error names them, not a file.
    assert!(
        stderr.contains("command line: paths, confidence")
            && stderr.contains("GiB of memory available"),
        "{stderr}"
    );
    assert!(stderr.contains("4294967295 paths"), "{stderr}");
}
