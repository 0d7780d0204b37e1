//! Separable filters on the CPU (Gaussian smoothing, box sums): the references of the GPU
//! smoothing kernel.

/// What a filter reads beyond the volume's edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The nearest voxel inside (smoothing keeps the mean near edges).
    Clamp,
    /// Zero (box sums whose adjoint is the same box sum, as exact LNCC gradients need).
    Zero,
}

/// Normalised Gaussian taps for `sigma` (in voxels), radius ⌈3σ⌉; `[1.0]` when σ is ~0.
pub fn gaussian_taps(sigma: f64) -> Vec<f32> {
    if sigma < 1e-3 {
        return vec![1.0];
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Convolves `data` (on `dims`, i fastest) along `axis` with symmetric `taps`.
pub fn convolve_axis(
    data: &[f32],
    dims: [usize; 3],
    axis: usize,
    taps: &[f32],
    edge: Edge,
) -> Vec<f32> {
    if taps.len() == 1 {
        return data.to_vec();
    }
    let radius = (taps.len() / 2) as i64;
    let stride = [1, dims[0], dims[0] * dims[1]][axis];
    let n = dims[axis] as i64;
    let mut out = vec![0f32; data.len()];
    crate::parallel::for_each_slice(&mut out, dims[0] * dims[1], |k, slice| {
        let base = k * dims[0] * dims[1];
        for (local, o) in slice.iter_mut().enumerate() {
            let index = base + local;
            let coord = [index % dims[0], (index / dims[0]) % dims[1], k][axis] as i64;
            let line_start = index - coord as usize * stride;
            let mut acc = 0f32;
            for (t, w) in taps.iter().enumerate() {
                let c = coord + t as i64 - radius;
                let c = match edge {
                    Edge::Clamp => c.clamp(0, n - 1),
                    Edge::Zero if c < 0 || c >= n => continue,
                    Edge::Zero => c,
                };
                acc += w * data[line_start + c as usize * stride];
            }
            *o = acc;
        }
    });
    out
}

/// Gaussian smoothing with per-axis σ in voxels.
pub fn gaussian_blur(data: &[f32], dims: [usize; 3], sigma_voxels: [f64; 3]) -> Vec<f32> {
    let mut out = data.to_vec();
    for axis in 0..3 {
        let taps = gaussian_taps(sigma_voxels[axis]);
        out = convolve_axis(&out, dims, axis, &taps, Edge::Clamp);
    }
    out
}

/// Sums over the `(2r+1)³` box around each voxel, with zeros beyond the edges.
pub fn box_sum(data: &[f32], dims: [usize; 3], radius: usize) -> Vec<f32> {
    let taps = vec![1.0; 2 * radius + 1];
    let mut out = data.to_vec();
    for axis in 0..3 {
        out = convolve_axis(&out, dims, axis, &taps, Edge::Zero);
    }
    out
}
