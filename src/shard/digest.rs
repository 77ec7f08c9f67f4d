//! The SHA-256 of a run's canonical inputs after flags (SPEC §14, H1): two shards merge only
//! when it is the same.
//!
//! Canonical = the parsed, validated inputs, not the files' bytes: the market, every
//! account's id, margin currency and positions (label, instrument, quantity; not where they
//! were written), the configuration after flags and any `--history` calibration (so every
//! figure-changing flag: paths, seed, horizon, steps, confidence, dynamics, margin, stress,
//! repair) and the named scenarios. Each is written with Rust's `Debug`, which prints every
//! f64 in its shortest round-trip form, so equal values give equal text. Left out as they
//! change no figure: file names, `--chunk-paths` and `--threads`, and where a value was
//! written (whether flags sized the run, whether the file named `student_t_dof`: its effect
//! is in ν and the calibration, both hashed), so a value given by flag or by file is the same
//! run. Backend and precision are compared on their own.

use sha2::{Digest, Sha256};

use crate::run::RunInputs;

/// Hex SHA-256 of the canonical inputs.
pub fn inputs_sha256(inputs: &RunInputs) -> String {
    let mut config = inputs.config.clone();
    config.chunk_paths = None;
    config.sized_by_flags = false;
    config.student_t_dof_given = false;
    let mut text = format!("market {:?}\nconfig {config:?}\n", inputs.market);
    for account in &inputs.portfolio.accounts {
        text += &format!("account {:?} {:?}\n", account.id, account.margin_currency);
        for p in &account.positions {
            text += &format!(
                "position {:?} {:?} {:?}\n",
                p.label, p.instrument, p.quantity
            );
        }
    }
    text += &format!(
        "scenarios {:?}\nhistorical {:?}\n",
        inputs.scenarios.scenarios, inputs.historical
    );
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
