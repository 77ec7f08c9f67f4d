mod common;
use std::sync::Arc;
use tailrisk::engine::Backend;
use tailrisk::engine::cpu::CpuBackend;
use tailrisk::model::importance::{Component, Importance};
use tailrisk::model::scenario::ScenarioModel;

#[test]
fn scratch_steps3() {
    let Some(gpu) = common::test_backend() else {
        return;
    };
    for steps in [1u32, 3] {
        let mut inputs = common::sample_inputs(20_000);
        inputs.config.steps = steps;
        let mut book = inputs.compile().unwrap();
        let seed = 17;
        let plain = Importance::plain(&ScenarioModel::new(&book, seed));
        let cells = plain.steps as usize * plain.assets;
        let shift = |sign: f64| -> Vec<f64> {
            (0..plain.steps as usize * plain.width)
                .map(|j| sign * (0.5 + 0.1 * (j % 7) as f64))
                .collect()
        };
        let tilted: Vec<f64> = (0..cells)
            .map(|c| (4.0 * plain.base_rates[c % plain.assets]).min(5.0))
            .collect();
        let importance = Importance {
            defensive: 0.2,
            components: vec![
                Component::new(0.5, shift(-1.0), 0.4, tilted),
                Component::new(0.3, shift(1.0), 1.0, Vec::new()),
            ],
            ..plain
        };
        book.importance = Some(Arc::new(importance));
        let paths: Vec<u32> = (0..20_000).collect();
        let cpu = CpuBackend::new()
            .revalue_paths(&book, seed, &paths)
            .unwrap();
        let got = gpu.revalue_paths(&book, seed, &paths).unwrap();
        let mut worst = (0.0f64, 0usize);
        for (i, (g, c)) in got.states.iter().zip(&cpu.states).enumerate() {
            let d = (g.log_return - c.log_return)
                .abs()
                .max((g.log_vol - c.log_vol).abs());
            if d > worst.0 {
                worst = (d, i);
            }
            if d > 1e-4 {
                eprintln!(
                    "steps {steps} path {} asset {}: GPU {g:?}, CPU {c:?}",
                    i / book.assets.len(),
                    i % book.assets.len()
                );
            }
        }
        eprintln!(
            "steps {steps}: worst state difference {:e} at {}",
            worst.0, worst.1
        );
    }
}
