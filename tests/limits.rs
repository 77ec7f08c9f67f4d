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

fn tailrisk(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .env("TAILRISK_NO_GPU", "1")
        .output()
        .expect("runs")
}

/// A stress grid of 2³¹ + 1 price points was accepted and exhausted memory (SIGKILL); the
/// bound (10 001) makes it an input error naming the field before anything is allocated.
#[test]
fn a_huge_stress_grid_is_an_input_error() {
    let dir = std::env::temp_dir().join(format!("tailrisk-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("grid.json");
    for (points, code) in [(2_147_483_649u64, 65), (10_003, 65), (10_001, 0)] {
        std::fs::write(
            &config,
            format!(r#"{{"paths":200,"stress":{{"price_points":{points}}}}}"#),
        )
        .unwrap();
        let config = config.display().to_string();
        let out = tailrisk(&["stress", "--backend", "cpu", "--config", &config]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{points} points: {stderr}");
        if code == 65 {
            assert!(
                stderr.contains("stress.price_points") && stderr.contains("10001"),
                "{stderr}"
            );
        }
    }
}

/// `--threads 4294967295` spawned threads without end; beyond 1 024 it is an input error, and
/// the backend line names the threads the run uses.
#[test]
fn threads_are_bounded_and_announced() {
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "100",
        "--threads",
        "1025",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("--threads") && stderr.contains("1025"),
        "{stderr}"
    );
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "100",
        "--threads",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("(3 threads)"), "{stderr}");
}
