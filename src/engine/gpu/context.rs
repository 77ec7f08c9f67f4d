//! Adapter selection and device setup, apart from the work (wgpu examples style): a
//! [`GpuContext`] owns the device, the queue, the adapter's limits and the compiled
//! pipelines; tests can build one from a device of their own with [`GpuContext::from_device`].

use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

use super::stage;
use super::stage::revalue::Pipelines as RevaluePipelines;

/// What `tailrisk devices` reports about one adapter.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AdapterReport {
    pub name: String,
    /// `Vulkan`, `Metal`, `Dx12`, `Gl`, …
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// Whether `--backend auto` would use it (a GPU, not a software rasteriser).
    pub hardware: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_storage_buffers_per_shader_stage: u32,
    /// Optional features tailrisk could use but does not require.
    pub shader_f64: bool,
    pub subgroups: bool,
}

/// Which adapters a backend may run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// A hardware GPU (discrete, integrated or virtual), never a software rasteriser:
    /// `--backend auto`.
    Hardware,
    /// Any adapter, lavapipe/llvmpipe included: `--backend gpu`.
    Any,
}

/// Whether an adapter is a GPU rather than a CPU-side implementation.
pub fn is_hardware(device_type: wgpu::DeviceType) -> bool {
    matches!(
        device_type,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    )
}

/// Preference among adapters: discrete, integrated, virtual, then software; within a kind,
/// the native APIs (Vulkan, Metal, DX12) before OpenGL.
fn preference(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let api = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        wgpu::Backend::Gl => 1,
        _ => 2,
    };
    (kind, api)
}

/// An instance on the native compute APIs (Vulkan, Metal, DX12); `WGPU_BACKEND` (e.g. `gl`)
/// and wgpu's other environment variables override the defaults.
fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc.with_env())
}

/// Adapters that can run compute shaders (WebGPU's baseline: not OpenGL ES downlevel-only).
fn compute_adapters() -> Vec<wgpu::Adapter> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .filter(|a| {
            a.get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        })
        .collect()
}

/// Every adapter wgpu finds that can run compute shaders, best first.
pub fn list_adapters() -> Vec<AdapterReport> {
    let mut adapters = compute_adapters();
    adapters.sort_by_key(|a| preference(&a.get_info()));
    adapters.iter().map(report).collect()
}

fn report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let features = adapter.features();
    AdapterReport {
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver,
        driver_info: info.driver_info,
        hardware: is_hardware(info.device_type),
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
        max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
        shader_f64: features.contains(wgpu::Features::SHADER_F64),
        subgroups: features.contains(wgpu::Features::SUBGROUP),
    }
}

/// The best adapter allowed by `choice`, or `BackendUnavailable` naming what was found.
pub fn select_adapter(choice: AdapterChoice) -> Result<wgpu::Adapter> {
    let mut adapters = compute_adapters();
    adapters.sort_by_key(|a| preference(&a.get_info()));
    let found: Vec<String> = adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
        })
        .collect();
    adapters
        .into_iter()
        .find(|a| choice == AdapterChoice::Any || is_hardware(a.get_info().device_type))
        .ok_or_else(|| {
            let wanted = match choice {
                AdapterChoice::Hardware => "no hardware GPU adapter",
                AdapterChoice::Any => "no GPU adapter (not even a software one such as lavapipe)",
            };
            let seen = if found.is_empty() {
                "wgpu found no adapter with compute shaders; install a Vulkan, Metal or DX12 \
                 driver (on Debian/Ubuntu, `mesa-vulkan-drivers` provides lavapipe)"
                    .to_string()
            } else {
                format!("found only: {}", found.join(", "))
            };
            Error::BackendUnavailable(format!("{wanted}: {seen}"))
        })
}

/// The compute pipelines of every stage but revalue (whose pipelines depend on the book's
/// knots: [`GpuContext::revalue_pipelines`]), each made by its stage's module.
#[derive(Debug)]
pub struct Pipelines {
    pub draws: stage::draws::Pipelines,
    pub scenario: stage::scenario::Pipelines,
    pub aggregate: stage::aggregate::Pipelines,
    pub tail: stage::tail::Pipelines,
}

impl Pipelines {
    fn new(device: &wgpu::Device) -> Result<Self> {
        Ok(Self {
            draws: stage::draws::Pipelines::new(device)?,
            scenario: stage::scenario::Pipelines::new(device)?,
            aggregate: stage::aggregate::Pipelines::new(device)?,
            tail: stage::tail::Pipelines::new(device)?,
        })
    }
}

/// The last table uploaded under each label, with its contents ([`GpuContext::book_table`]).
#[derive(Debug, Default)]
struct BookTables {
    entries: Vec<CachedTable>,
    uploads: u64,
}

#[derive(Debug)]
struct CachedTable {
    label: &'static str,
    usage: wgpu::BufferUsages,
    bytes: Vec<u8>,
    buffer: wgpu::Buffer,
}

/// The long-lived GPU objects of a backend.
#[derive(Debug)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The device's limits (the adapter's own, requested in full): chunks are sized to them.
    pub limits: wgpu::Limits,
    pub pipelines: Pipelines,
    /// The revalue stage's bind group layout: its block (binding 1) is a uniform at a
    /// dynamic offset, one dispatch per block.
    pub revalue_layout: wgpu::BindGroupLayout,
    revalue_pipeline_layout: wgpu::PipelineLayout,
    /// Revalue pipelines compiled so far, one per `KNOTS`.
    revalue_cache: Mutex<Vec<Arc<RevaluePipelines>>>,
    /// The book's read-only tables on the device ([`Self::book_table`]).
    book_tables: Mutex<BookTables>,
    /// The first device error reported outside an error scope (wgpu would panic otherwise).
    errors: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Opens the best adapter allowed by `choice` with its own limits.
    pub fn new(choice: AdapterChoice) -> Result<Self> {
        let adapter = select_adapter(choice)?;
        Self::from_adapter(&adapter)
    }

    /// Opens a device on `adapter`, requesting the adapter's own limits.
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        if let Err(Error::Gpu(e)) = crate::engine::gpu::failpoint::hit("device") {
            return Err(Error::Gpu(format!(
                "cannot open a device on {}: {e}",
                info.name
            )));
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tailrisk"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("cannot open a device on {}: {e}", info.name)))?;
        Self::from_device(device, queue, info)
    }

    /// Wraps a device the caller opened (tests); compiles every pipeline.
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
    ) -> Result<Self> {
        let errors = Arc::new(Mutex::new(None));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        // A lost device (driver reset, GPU removed) takes the same path: the next wait or
        // check returns it as `Error::Gpu`, and `--backend auto` reruns on the CPU.
        let lost = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = lost.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| format!("device lost ({reason:?}): {message}"));
        });
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipelines = Pipelines::new(&device)?;
        let revalue_layout = stage::revalue::bind_group_layout(&device);
        let revalue_pipeline_layout =
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("revalue"),
                bind_group_layouts: &[Some(&revalue_layout)],
                immediate_size: 0,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("shader pipeline creation failed: {e}")));
        }
        let limits = device.limits();
        Ok(Self {
            device,
            queue,
            info,
            limits,
            pipelines,
            revalue_layout,
            revalue_pipeline_layout,
            revalue_cache: Mutex::new(Vec::new()),
            book_tables: Mutex::new(BookTables::default()),
            errors,
        })
    }

    /// The read-only book table `label` holding `bytes` (at least 16: bindings may not be
    /// empty), uploaded only when its contents differ from the last table of that label. A
    /// run builds its stages up to three times from one book (the tails, the regenerated
    /// tail paths of component ES, the stress scenarios), and the service once per request:
    /// each table reaches the device once per book, not once per call. The stages only read
    /// these buffers, so sharing one between them is safe.
    pub fn book_table(
        &self,
        label: &'static str,
        usage: wgpu::BufferUsages,
        bytes: &[u8],
    ) -> wgpu::Buffer {
        let mut padded;
        let bytes = if bytes.len() < 16 {
            padded = bytes.to_vec();
            padded.resize(16, 0);
            &padded[..]
        } else {
            bytes
        };
        let mut tables = self.book_tables.lock().unwrap_or_else(|p| p.into_inner());
        let slot = tables.entries.iter().position(|t| t.label == label);
        if let Some(t) = slot.map(|i| &tables.entries[i])
            && t.usage == usage
            && t.bytes == bytes
        {
            return t.buffer.clone();
        }
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage,
            });
        let table = CachedTable {
            label,
            usage,
            bytes: bytes.to_vec(),
            buffer: buffer.clone(),
        };
        match slot {
            Some(i) => tables.entries[i] = table,
            None => tables.entries.push(table),
        }
        tables.uploads += 1;
        buffer
    }

    /// How many book tables this device holds (one per label).
    pub fn book_tables(&self) -> usize {
        self.book_tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    /// How many book tables [`Self::book_table`] has uploaded on this device so far.
    pub fn book_table_uploads(&self) -> u64 {
        self.book_tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .uploads
    }

    /// The revalue pipelines for books of at most `knots` smile knots (compiled on first use,
    /// then cached).
    pub fn revalue_pipelines(&self, knots: u32) -> Result<Arc<RevaluePipelines>> {
        let mut cache = self.revalue_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.iter().find(|p| p.knots == knots) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let made = RevaluePipelines::new(&self.device, &self.revalue_pipeline_layout, knots);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("revalue pipeline creation failed: {e}")));
        }
        let made = Arc::new(made?);
        cache.push(made.clone());
        Ok(made)
    }

    /// Bytes between consecutive revalue blocks in their uniform buffer: the block's size
    /// rounded up to the adapter's dynamic-offset alignment.
    pub fn revalue_block_stride(&self) -> u64 {
        let size = std::mem::size_of::<super::types::RevalueBlock>() as u64;
        size.next_multiple_of(u64::from(
            self.limits.min_uniform_buffer_offset_alignment.max(1),
        ))
    }

    /// Waits for submitted work and reports any device error since the last check.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        self.check()
    }

    /// Returns the first uncaptured device error, if any, as `Error::Gpu`.
    pub fn check(&self) -> Result<()> {
        let mut slot = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(e) => Err(Error::Gpu(e)),
            None => Ok(()),
        }
    }

    /// The largest size in bytes of one storage binding (and one buffer).
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }
}
