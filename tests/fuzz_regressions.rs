//! The fuzz corpus (`fuzz/corpus/TARGET/*`, docs/fuzzing.md) replayed on stable through the
//! very bodies the libFuzzer targets run (`fuzz/src/targets.rs`): every seed, hand-written
//! edge case and committed crash input must be accepted or refused without a panic, so a
//! fixed crash stays fixed without a fuzzer. The regressions that fuzzing found are also
//! asserted one by one below, with the error each now gives.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;
use std::time::{Duration, Instant};

/// Generous for any one input of the corpus (the largest, a 226 kB CSV book, takes well
/// under a second in release): a parser that loops on an input fails here, not only under
/// the fuzzer's `-timeout`.
const PER_INPUT: Duration = Duration::from_secs(20);

#[test]
fn every_corpus_input_is_accepted_or_refused_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for (name, target) in targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no seed inputs", dir.display());
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let start = Instant::now();
            target(&bytes);
            let took = start.elapsed();
            assert!(took < PER_INPUT, "{}: {took:?}", file.display());
            replayed += 1;
        }
    }
    assert!(replayed >= 2 * targets::TARGETS.len());
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, _) in targets::TARGETS {
        assert!(root.join("corpus").join(name).is_dir(), "corpus of {name}");
        let target = root.join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&target).unwrap();
        assert!(
            text.contains(&format!("targets::{name}(")),
            "{}",
            target.display()
        );
    }
}

/// The targets' byte-level entry point refuses non-UTF-8 bytes exactly as reading the file
/// does (same field, value and message; the file as named).
#[test]
fn text_of_refuses_non_utf8_as_reading_a_file_does() {
    let bytes = b"{\n  \"as_of\": \xff\xfe".to_vec();
    let path = std::env::temp_dir().join(format!("tailrisk-fuzz-utf8-{}.json", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let from_file = tailrisk::input::load_market(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let from_bytes = tailrisk::input::text_of(bytes, &path.display().to_string()).unwrap_err();
    assert_eq!(format!("{from_file:?}"), format!("{from_bytes:?}"));
    let tailrisk::Error::Input { field, value, .. } = from_bytes else {
        panic!("an input error expected, got {from_bytes:?}");
    };
    assert_eq!(
        (field.as_str(), value.as_str()),
        ("line 2, column 12", "bytes 0xff 0xfe")
    );
}
