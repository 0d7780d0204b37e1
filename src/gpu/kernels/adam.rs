//! GPU Adam optimiser step (`shaders/adam.wgsl`) over any parameter buffer.

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    step: f32,
    _pad: [u32; 3],
}

/// Adam's constants; `learning_rate` is in the parameters' units (mm for displacements).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSettings {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
}

impl AdamSettings {
    pub fn with_learning_rate(learning_rate: f64) -> AdamSettings {
        AdamSettings {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// The bias-corrected step size of iteration `t` (from 1).
    pub fn step(&self, t: u32) -> f64 {
        let t = t as i32;
        self.learning_rate * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t))
    }
}

pub struct AdamKernel(ComputeKernel);

impl AdamKernel {
    pub fn new(ctx: &GpuContext) -> Result<AdamKernel> {
        ComputeKernel::new(ctx, "adam.wgsl").map(AdamKernel)
    }

    /// Records step `t` (from 1) on `count` parameters `x` with moments `m`, `v` and gradient `grad`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        settings: &AdamSettings,
        t: u32,
        count: usize,
        [grad, m, v, x]: [&wgpu::Buffer; 4],
    ) -> Result<()> {
        let params = Params {
            count: count as u32,
            beta1: settings.beta1 as f32,
            beta2: settings.beta2 as f32,
            epsilon: settings.epsilon as f32,
            step: settings.step(t) as f32,
            _pad: [0; 3],
        };
        self.0.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[grad, m, v, x],
            count,
        )
    }
}

/// CPU reference of one Adam step, in f64.
pub fn adam_reference(
    settings: &AdamSettings,
    t: u32,
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    x: &mut [f32],
) {
    let step = settings.step(t);
    for i in 0..x.len() {
        let g = grad[i] as f64;
        let mi = settings.beta1 * m[i] as f64 + (1.0 - settings.beta1) * g;
        let vi = settings.beta2 * v[i] as f64 + (1.0 - settings.beta2) * g * g;
        m[i] = mi as f32;
        v[i] = vi as f32;
        x[i] = (x[i] as f64 - step * mi / (vi.sqrt() + settings.epsilon)) as f32;
    }
}
