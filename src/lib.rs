//! tailrisk: a Monte Carlo portfolio-margin engine for crypto options and derivatives.
//!
//! The pipeline (see docs/architecture.md): inputs are validated and compiled once into a
//! [`book::Book`]; a [`engine::Backend`] (CPU reference or wgpu) runs the stages scenario →
//! revalue → aggregate → tail; [`risk`] turns tails into VaR, ES, intervals and components;
//! [`report`] writes SPEC §8.

pub mod backtest;
pub mod bench;
pub mod bench_book;
pub mod book;
pub mod calibrate;
pub mod cli;
pub mod config;
pub mod converge;
pub mod engine;
pub mod error;
pub mod greeks;
pub mod import;
pub mod input;
pub mod instrument;
pub mod margin;
pub mod market;
pub mod model;
pub mod portfolio;
pub mod pricing;
pub mod report;
pub mod risk;
pub mod rng;
pub mod run;
pub mod serve;
pub mod shard;
pub mod stress;
pub mod time;
pub mod verify;
pub mod whatif;

pub use error::{Error, Result};
