//! `tailrisk serve` (SPEC §13): its flags, and the inputs and start-up checks it shares with
//! `run` (every common flag, `--history` and `--method` included, S1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sha2::{Digest, Sha256};

use super::args::{CommonArgs, MethodChoice};
use super::commands::{load_inputs, sample, select_backend};
use crate::error::Result;
use crate::input::requests::MarketDocument;
use crate::run::RunInputs;

/// `tailrisk serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0: a free port). Without --token-file only
    /// loopback addresses are allowed.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// A file whose first line is the bearer token every request must carry.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes (decoded).
    #[arg(long, default_value_t = 8_388_608)]
    pub max_body_bytes: u64,
    /// SQLite file keeping every accepted change and the figures of every snapshot; the
    /// server replays it on restart.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `tailrisk serve`.
pub fn execute(args: &ServeArgs) -> Result<ExitCode> {
    super::report::reject(&args.common, "serve")?;
    if args.common.variance_reduction != super::args::VarianceReduction::None {
        return Err(crate::error::Error::Usage(
            "--variance-reduction is does not apply to `tailrisk serve` (its warm scenarios \
             are plain Monte Carlo)"
                .into(),
        ));
    }
    Ok(crate::serve::run(args))
}

/// What start-up computes from the flags: the run's inputs, the market as a document, the
/// backend and the parts of the state-file digest (S22).
pub struct Loaded {
    pub inputs: RunInputs,
    pub document: MarketDocument,
    pub backend: Box<dyn crate::engine::Backend>,
    pub digest: Vec<(String, String)>,
    /// Each figure-changing flag with its value (hashed as the digest's `flags`).
    pub flags: Vec<(String, String)>,
}

/// The flags that change a figure, after the config file and the command line are
/// combined, with canonical values: the state file records them one by one and hashed.
/// `--chunk-paths` and `--threads` change no figure.
fn figure_flags(c: &crate::config::RunConfig, method: MethodChoice) -> Vec<(String, String)> {
    let list = |v: &[f64]| v.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
    let method = match method {
        MethodChoice::Mc => "mc",
        MethodChoice::Hs => "hs",
        MethodChoice::Fhs => "fhs",
    };
    [
        ("--paths", c.paths.to_string()),
        ("--seed", c.seed.to_string()),
        ("--horizon-days", c.horizon_days.to_string()),
        ("--steps", c.steps.to_string()),
        ("--confidence", list(&c.confidence)),
        ("margin.confidence", c.margin.confidence.to_string()),
        ("--method", method.to_string()),
        ("--repair-correlation", c.repair_correlation.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Loads the inputs as `run` does and describes them for the state file.
pub fn load(args: &ServeArgs) -> Result<Loaded> {
    let common = &args.common;
    let inputs = load_inputs(common)?;
    let (market_text, market_file) = match &common.market {
        Some(path) => (crate::input::read(path)?, path.display().to_string()),
        None => (sample::MARKET.to_string(), sample::MARKET_NAME.to_string()),
    };
    let document = MarketDocument::read(&market_text, &market_file)?;
    let backend = select_backend(common)?;
    let info = backend.info();
    let file_hash = |path: &Option<PathBuf>, embedded: &str| -> Result<String> {
        Ok(match path {
            Some(p) => sha256(&std::fs::read(p).map_err(|e| crate::Error::unreadable(p, e))?),
            None => sha256(embedded.as_bytes()),
        })
    };
    let sample_config = match (&common.config, &common.market) {
        (None, None) => sample::CONFIG,
        _ => "",
    };
    let flags = figure_flags(&inputs.config, common.method);
    let flags_text: Vec<String> = flags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let digest = vec![
        ("version".into(), env!("CARGO_PKG_VERSION").to_string()),
        ("--market".into(), sha256(market_text.as_bytes())),
        (
            "--portfolio".into(),
            file_hash(&common.portfolio, sample::PORTFOLIO)?,
        ),
        ("--config".into(), file_hash(&common.config, sample_config)?),
        (
            "--scenarios".into(),
            file_hash(&common.scenarios, "built-in")?,
        ),
        ("--history".into(), file_hash(&common.history, "none")?),
        ("flags".into(), sha256(flags_text.join(" ").as_bytes())),
        (
            "backend".into(),
            format!("{} {} {}", info.backend, info.precision, info.device),
        ),
    ];
    Ok(Loaded {
        inputs,
        document,
        backend,
        digest,
        flags,
    })
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
