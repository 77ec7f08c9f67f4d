//! `tailrisk devices`: the adapters wgpu finds, with the features and limits tailrisk uses.

use crate::engine::gpu::list_adapters;

/// The adapters wgpu finds as a table, each marked with the `--backend` that uses it.
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
