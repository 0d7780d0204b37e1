//! `GpuContext`: the one wgpu instance, adapter, device and queue that the UI, our compute kernels
//! and burn share.
//!
//! Headless runs (CLI, tests, benchmarks) create it with [`GpuContext::new`]. The window lets eframe
//! create the device with [`device_descriptor`] (so a surface-compatible adapter is chosen) and wraps
//! eframe's device with [`GpuContext::from_parts`]; either way the requirements live here.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// What the engine asks of a device: the adapter's own limits (wgpu's defaults cap a storage binding
/// at 128 MiB, too small for a 37 M-voxel CT) and its features, less the experimental ones and
/// mappable primary buffers (slow on discrete GPUs).
pub fn device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
    let features = adapter.features()
        - wgpu::Features::all_experimental_mask()
        - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS;
    wgpu::DeviceDescriptor {
        label: Some("warpbench"),
        required_features: features,
        required_limits: adapter.limits(),
        ..Default::default()
    }
}

/// The shared device. Cheap to clone (wgpu handles are reference counted).
#[derive(Clone)]
pub struct GpuContext {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    burn: Arc<OnceLock<burn::tensor::Device>>,
    /// Bytes one storage binding may hold: the device's limit, or less (see
    /// [`GpuContext::with_binding_limit`]).
    binding_limit: u64,
    /// Work one submission of the engine's may carry before it is submitted and waited for (see
    /// `gpu::pacing`), shared by the clones so the window can change it while a run goes on;
    /// `None`: each caller submits its work whole.
    submission_budget: Option<Arc<AtomicU64>>,
    /// Whether the adapter is a CPU rasteriser, read once: the window asks every frame.
    software: bool,
}

impl GpuContext {
    /// Creates the instance, picks the highest-performance adapter and opens a device on it.
    pub fn new() -> Result<GpuContext> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| {
            Error::NoGpu(format!(
                "{e}. On a machine without a GPU install Mesa's software Vulkan driver \
                 (Debian: apt-get install mesa-vulkan-drivers)"
            ))
        })?;
        let (device, queue) = pollster::block_on(
            adapter.request_device(&device_descriptor(&adapter)),
        )
        .map_err(|e| {
            Error::Gpu(format!(
                "cannot open a device on {}: {e}",
                adapter.get_info().name
            ))
        })?;
        Ok(GpuContext::from_parts(instance, adapter, device, queue))
    }

    /// Wraps a device created elsewhere (eframe's renderer) and logs what it runs on.
    pub fn from_parts(
        instance: wgpu::Instance,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> GpuContext {
        let binding_limit = device.limits().max_storage_buffer_binding_size;
        let software = adapter.get_info().device_type == wgpu::DeviceType::Cpu;
        let ctx = GpuContext {
            instance,
            adapter,
            device,
            queue,
            burn: Arc::default(),
            binding_limit,
            submission_budget: None,
            software,
        };
        log::info!("GPU: {}", ctx.describe());
        ctx
    }

    /// Adapter name, backend and the largest storage binding, e.g. for logs and `--version`.
    pub fn describe(&self) -> String {
        let info = self.adapter.get_info();
        let limits = self.device.limits();
        format!(
            "{} ({:?}, {:?}); max storage binding {} MiB, max buffer {} MiB",
            info.name,
            info.backend,
            info.device_type,
            limits.max_storage_buffer_binding_size >> 20,
            limits.max_buffer_size >> 20
        )
    }

    /// The largest storage binding the engine uses, in bytes; volumes beyond it are processed in
    /// slabs (`gpu::slabs`).
    pub fn binding_limit(&self) -> u64 {
        self.binding_limit
    }

    /// This device with a smaller binding limit, so that tests can make small volumes take the
    /// slab paths that a 37 M-voxel CT takes.
    pub fn with_binding_limit(&self, bytes: u64) -> GpuContext {
        GpuContext {
            binding_limit: bytes.min(self.device.limits().max_storage_buffer_binding_size),
            ..self.clone()
        }
    }

    /// This device with paced submissions: the engine's kernels submit their work in pieces of
    /// about `budget` one-voxel invocations and wait for each, so that a window drawing on the
    /// same queue gets its frames in between (see `gpu::pacing`).
    pub fn with_submission_budget(&self, budget: u64) -> GpuContext {
        GpuContext {
            submission_budget: Some(Arc::new(AtomicU64::new(budget.max(1)))),
            ..self.clone()
        }
    }

    /// Changes the budget of a paced context (and of its clones); no effect on one not paced.
    pub fn set_submission_budget(&self, budget: u64) {
        if let Some(b) = &self.submission_budget {
            b.store(budget.max(1), Ordering::Relaxed);
        }
    }

    /// The submission budget of [`GpuContext::with_submission_budget`], if any.
    pub fn submission_budget(&self) -> Option<u64> {
        self.submission_budget
            .as_ref()
            .map(|b| b.load(Ordering::Relaxed))
    }

    /// A budget for while the window is drawing often: pieces of a fraction of a millisecond,
    /// so a frame waits for little more than its own drawing. CPU rasterisers run about 50 M
    /// one-voxel invocations a second on two cores, GPUs a hundred times more. On lavapipe the
    /// window's frames then take most of the device, and a run goes on several times slower for
    /// as long as someone interacts (1 << 15 already let the registering p95 frame time past
    /// 33 ms on the brain pair).
    pub fn interactive_budget(&self) -> u64 {
        if self.is_software() { 1 << 14 } else { 1 << 23 }
    }

    /// A budget for while nobody is watching closely: pieces of tens of milliseconds, which
    /// cost a run a few percent.
    pub fn background_budget(&self) -> u64 {
        if self.is_software() { 1 << 20 } else { 1 << 27 }
    }

    /// Whether this is a software rasteriser (lavapipe, llvmpipe, WARP): slow, but exact enough.
    pub fn is_software(&self) -> bool {
        self.software
    }

    /// The burn device on this same wgpu device, registered with burn on first use (burn keys its
    /// runtime by registration, so registering twice would split the device).
    pub fn burn_device(&self) -> Result<burn::tensor::Device> {
        if let Some(device) = self.burn.get() {
            return Ok(device.clone());
        }
        if self.is_software() {
            tune_lightly();
        }
        let setup = burn::tensor::wgpu::WgpuSetup {
            instance: self.instance.clone(),
            adapter: self.adapter.clone(),
            device: self.device.clone(),
            queue: self.queue.clone(),
            backend: self.adapter.get_info().backend,
        };
        let device = burn::tensor::Device::wgpu_options()
            .setup(setup)
            .init()
            .map_err(|e| Error::Gpu(format!("burn cannot use the shared device: {e}")))?;
        Ok(self.burn.get_or_init(|| device).clone())
    }
}

/// On a CPU device, burn's default autotuning benchmarks every new tensor shape for minutes (the
/// brain example's first training iteration took 199 s, 82 s at the minimal level), more than it
/// saves in a short run. `CUBECL_AUTOTUNE_LEVEL` or a `cubecl.toml` still decide when given, and
/// nothing changes once cubecl has read its configuration.
fn tune_lightly() {
    use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig, autotune::AutotuneLevel};
    let configured = std::env::var_os("CUBECL_AUTOTUNE_LEVEL").is_some()
        || ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"]
            .iter()
            .any(|f| std::path::Path::new(f).exists());
    if !configured {
        let mut config = CubeClRuntimeConfig::default();
        config.autotune.level = AutotuneLevel::Minimal;
        CubeClRuntimeConfig::try_set(config);
    }
}
