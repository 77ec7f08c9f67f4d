//! GPU fault tolerance (docs/reference.md §7.4): under `--backend auto`, a device error
//! during a run (a lost device, out of memory, a failed buffer mapping, any `Error::Gpu`)
//! is reported loudly on stderr, naming the device and the error, and the same run is done
//! again from the start on the CPU backend in f32, the precision the GPU ran at, so its
//! figures are those of `--backend cpu --precision f32`, bit for bit. Under `--backend gpu`
//! the error is returned (exit 1). The engine prints nothing; this layer does.

use super::args::{BackendChoice, CommonArgs};
use crate::engine::cpu::{CpuBackend, Precision};
use crate::engine::{Backend, BackendKind};
use crate::error::{Error, Result};

/// Runs `work` on `backend`; under `--backend auto`, a GPU device error reruns it on the
/// CPU backend in f32 after a warning (module docs); otherwise the error names the device.
pub(super) fn with_fallback<T>(
    args: &CommonArgs,
    backend: &dyn Backend,
    work: impl Fn(&dyn Backend) -> Result<T>,
) -> Result<T> {
    let info = backend.info();
    match work(backend) {
        Err(Error::Gpu(error))
            if args.backend == BackendChoice::Auto && info.backend == BackendKind::Gpu =>
        {
            eprintln!(
                "tailrisk: warning: GPU FAILURE on {}: {error}; the run is redone from the \
                 start on the CPU backend (f32, the precision the GPU ran at)",
                info.device
            );
            let cpu = CpuBackend::with_precision(Precision::F32);
            let cpu_info = cpu.info();
            eprintln!(
                "tailrisk: {} backend on {} ({})",
                cpu_info.backend, cpu_info.device, cpu_info.precision
            );
            work(&cpu)
        }
        // `--backend gpu`: exit 1 with the device's error, naming the device.
        Err(Error::Gpu(error)) => Err(Error::Gpu(format!("on {}: {error}", info.device))),
        result => result,
    }
}
