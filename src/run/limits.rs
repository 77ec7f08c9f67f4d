//! Resource limits checked before a simulation allocates: a run whose tail candidates
//! cannot fit in memory fails at once, naming the figures that make it and the limit, rather
//! than being killed by the operating system after minutes of work.

use crate::error::{Error, Result};
use crate::model::TailEntry;

/// Bytes of tail candidates held at once by a pass over `accounts` accounts keeping
/// `tail_len` losses each: every worker's buffers plus the merged ones, each buffer up to
/// 2·`tail_len` entries before it is cut back (model::tail).
pub fn tail_bytes(accounts: usize, tail_len: usize, workers: usize) -> u128 {
    let per_copy = accounts as u128 * 2 * tail_len as u128 * size_of::<TailEntry>() as u128;
    per_copy * (workers as u128 + 1)
}

/// The memory the operating system says is available (`MemAvailable` of /proc/meminfo), or
/// `None` where it does not say (then no limit is checked).
pub fn available_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// An input error when the tail memory of a pass exceeds `available` bytes. `source` names
/// where the path count and confidence levels come from (the configuration file or flags).
pub fn check_tail_memory(
    source: &str,
    paths: u64,
    tail_len: usize,
    accounts: usize,
    workers: usize,
    available: Option<u128>,
) -> Result<()> {
    let Some(available) = available else {
        return Ok(());
    };
    let need = tail_bytes(accounts, tail_len, workers);
    if need <= available {
        return Ok(());
    }
    let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
    Err(Error::input(
        source,
        "paths, confidence",
        format!("{paths} paths: a tail of {tail_len} losses per account"),
        format!(
            "the tails need {:.1} GiB ({accounts} account(s) at once, {workers} worker(s)), \
             more than the {:.1} GiB of memory available: use fewer paths or confidence \
             levels closer to 1",
            gib(need),
            gib(available)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_within_memory_pass_and_beyond_fail() {
        // 1 account, 10⁴ losses, 2 workers: 3 copies × 2·10⁴ × 16 B = 960 000 B.
        assert_eq!(tail_bytes(1, 10_000, 2), 960_000);
        assert!(check_tail_memory("c.json", 1_000_000, 10_000, 1, 2, Some(960_000)).is_ok());
        let err = check_tail_memory("c.json", 1_000_000, 10_000, 1, 2, Some(959_999));
        match err {
            Err(Error::Input {
                file,
                field,
                message,
                ..
            }) => {
                assert_eq!(
                    (file.as_str(), field.as_str()),
                    ("c.json", "paths, confidence")
                );
                assert!(message.contains("GiB"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_tail_memory("c.json", 1, usize::MAX / 64, 9, 2, None).is_ok());
    }
}
