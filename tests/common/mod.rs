//! Helpers shared by the integration tests: deterministic random volumes and the shared data folder.
#![allow(dead_code)]

use std::path::PathBuf;
use warpbench::volume::{Affine, Grid, ScalarVolume};

/// A small deterministic generator (xorshift), so tests need no extra crate and never vary.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

/// The path of a file of the built-in demo case (`assets/demo`), as a command-line argument.
pub fn demo_file(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// An oblique grid: rotated, anisotropic, off-origin.
pub fn oblique_grid(dims: [usize; 3]) -> Grid {
    let (a, b) = (0.3f64, -0.2f64);
    let rz = [
        [a.cos(), -a.sin(), 0.0],
        [a.sin(), a.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, b.cos(), -b.sin()],
        [0.0, b.sin(), b.cos()],
    ];
    let spacing = [0.9, 1.3, 2.1];
    let m = std::array::from_fn(|r| {
        std::array::from_fn(|c| (0..3).map(|k| rz[r][k] * rx[k][c]).sum::<f64>() * spacing[c])
    });
    Grid::new(
        dims,
        Affine::from_linear_translation(m, [-12.5, 30.25, -7.0]),
    )
    .unwrap()
}

pub fn random_volume(grid: Grid, seed: u64) -> ScalarVolume {
    let mut rng = Rng::new(seed);
    let data = (0..grid.voxel_count())
        .map(|_| rng.range(-100.0, 1000.0) as f32)
        .collect();
    ScalarVolume::new(grid, data).unwrap()
}

/// The shared data folder, or `None` to skip: `WARPBENCH_DATA` when set (then a missing folder
/// fails the test), else `../shared/data` if it exists.
pub fn shared_data() -> Option<PathBuf> {
    match std::env::var_os("WARPBENCH_DATA") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "WARPBENCH_DATA={} is not a folder",
                dir.display()
            );
            Some(dir)
        }
        None => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
            if dir.is_dir() {
                Some(dir)
            } else {
                eprintln!("skipped: no ../shared/data and WARPBENCH_DATA is not set");
                None
            }
        }
    }
}

/// A file of the shared data folder; with `WARPBENCH_DATA` set, a missing file fails the test.
pub fn shared_file(dir: &std::path::Path, relative: &str) -> PathBuf {
    let path = dir.join(relative);
    assert!(
        path.is_file(),
        "missing shared data file {}",
        path.display()
    );
    path
}

/// The shared GPU device, with a hint where none comes up.
pub fn gpu() -> warpbench::gpu::GpuContext {
    warpbench::gpu::GpuContext::new()
        .expect("a GPU adapter (on a machine without GPU: apt-get install mesa-vulkan-drivers)")
}

/// Largest absolute difference (NaN against NaN counts as equal).
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_nan() && y.is_nan() {
                0.0
            } else {
                (x - y).abs()
            }
        })
        .fold(0.0, f32::max)
}

pub fn upload(ctx: &warpbench::gpu::GpuContext, data: &[f32]) -> wgpu::Buffer {
    warpbench::gpu::buffer::upload_f32(ctx, "test", data).unwrap()
}

pub fn storage(ctx: &warpbench::gpu::GpuContext, len: usize) -> wgpu::Buffer {
    warpbench::gpu::buffer::storage_f32(ctx, "test", len).unwrap()
}

pub fn read(ctx: &warpbench::gpu::GpuContext, b: &wgpu::Buffer, len: usize) -> Vec<f32> {
    warpbench::gpu::buffer::read_f32(ctx, b, len).unwrap()
}

/// Checks a gradient with respect to a displacement `u` two ways. The GPU's `got` (interleaved)
/// must match the reference `expected` to 1e-3 of its largest value, but for under 0.5 % of the
/// values: trilinear derivatives jump where a sample sits on a moving voxel plane, and the CPU
/// snaps such samples to the plane, so a rare voxel takes the other side's slope. And `expected`
/// must be the derivative of the reference `loss`: central differences at four voxels agree to
/// 2 % plus `floor`, with at least six of the twelve components above 10 × `floor`.
pub fn check_displacement_gradient(
    got: &[f32],
    expected: &[[f64; 3]],
    loss: impl Fn(&[[f32; 3]]) -> f64,
    u: &[[f32; 3]],
    floor: f64,
) {
    let n = 3 * expected.len();
    assert_eq!(got.len(), n);
    let scale = expected.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
    let off = (0..n)
        .filter(|&k| (got[k] as f64 - expected[k / 3][k % 3]).abs() > 1e-3 * scale)
        .count();
    assert!(off * 200 < n, "{off} of {n} gradient values differ");
    let mut checked = 0;
    for i in [50usize, 333, 517, 700] {
        for a in 0..3 {
            let h = 1e-3f32;
            let (mut up, mut down) = (u.to_vec(), u.to_vec());
            up[i][a] += h;
            down[i][a] -= h;
            let fd = (loss(&up) - loss(&down)) / (2.0 * h as f64);
            let g = expected[i][a];
            assert!(
                (fd - g).abs() < 2e-2 * g.abs() + floor,
                "voxel {i} axis {a}: finite difference {fd} vs {g}"
            );
            checked += (g.abs() > 10.0 * floor) as usize;
        }
    }
    assert!(checked >= 6, "only {checked} non-zero gradients checked");
}
pub mod training_case;
