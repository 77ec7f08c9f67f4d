//! Choosing a backend: `--backend auto|gpu|cpu`.

use crate::engine::Backend;
use crate::error::{Error, Result};

/// A hardware GPU backend if one exists (lavapipe does not count), else `None`.
pub fn hardware_gpu() -> Result<Option<Box<dyn Backend>>> {
    Ok(None)
}

/// A GPU backend on any adapter, lavapipe included; exit 69 without one.
pub fn any_gpu() -> Result<Box<dyn Backend>> {
    Err(Error::BackendUnavailable(
        "no GPU adapter found by wgpu".into(),
    ))
}

/// The adapters wgpu finds, as a table.
pub fn describe_adapters() -> String {
    "no GPU adapters\n".into()
}
