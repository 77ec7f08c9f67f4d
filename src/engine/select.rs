//! Choosing a backend: `--backend auto|gpu|cpu`.

use crate::engine::Backend;
use crate::engine::gpu::{GpuBackend, list_adapters};
use crate::error::Result;

/// A hardware GPU backend if one exists and opens (lavapipe and other software adapters do
/// not count), else `None`: `--backend auto` then runs on the CPU and says why on stderr.
pub fn hardware_gpu() -> Option<Box<dyn Backend>> {
    match GpuBackend::hardware() {
        Ok(gpu) => Some(Box::new(gpu)),
        Err(why) => {
            eprintln!("tailrisk: no hardware GPU ({why}); using the CPU backend");
            None
        }
    }
}

/// A GPU backend on any adapter, lavapipe included; `Error::BackendUnavailable` (exit 69)
/// without one.
pub fn any_gpu() -> Result<Box<dyn Backend>> {
    Ok(Box::new(GpuBackend::any()?))
}

/// The adapters wgpu finds, with the features and limits tailrisk uses, as a table.
pub fn describe_adapters() -> String {
    let adapters = list_adapters();
    if adapters.is_empty() {
        return "no GPU adapters found (wgpu searched Vulkan, Metal and DX12; set \
                WGPU_BACKEND=gl to try OpenGL)\n"
            .into();
    }
    let mut out = String::new();
    for (i, a) in adapters.iter().enumerate() {
        out += &format!(
            "adapter {i}: {}\n  backend {}, type {}{}\n  driver {} {}\n  \
             max storage binding {} MiB, max buffer {} MiB, max workgroups/dim {}, \
             max invocations/workgroup {}, workgroup storage {} KiB, storage buffers/stage {}\n  \
             optional features: shader_f64 {}, subgroups {} (not required)\n",
            a.name,
            a.backend,
            a.device_type,
            if a.hardware {
                " (hardware: used by --backend auto)"
            } else {
                " (software: only with --backend gpu)"
            },
            a.driver,
            a.driver_info,
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroups_per_dimension,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroup_storage_size >> 10,
            a.max_storage_buffers_per_shader_stage,
            a.shader_f64,
            a.subgroups,
        );
    }
    out
}
