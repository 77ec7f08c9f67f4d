//! Choosing a backend: a hardware GPU, any GPU adapter, or (the caller's choice) the CPU.

use crate::engine::Backend;
use crate::engine::gpu::GpuBackend;
use crate::error::Result;

/// A hardware GPU backend (lavapipe and other software adapters do not count), or the reason
/// there is none (`Error::BackendUnavailable`), for the caller to fall back on the CPU
/// backend and say why.
pub fn hardware_gpu() -> Result<Box<dyn Backend>> {
    if crate::engine::gpu::failpoint::active() {
        // Test-only (the `failpoints` feature): lavapipe stands in for the hardware GPU so
        // that the fallback of `--backend auto` can be shown on it.
        return any_gpu();
    }
    Ok(Box::new(GpuBackend::hardware()?))
}

/// A GPU backend on any adapter, lavapipe included; `Error::BackendUnavailable` (exit 69)
/// without one.
pub fn any_gpu() -> Result<Box<dyn Backend>> {
    Ok(Box::new(GpuBackend::any()?))
}
