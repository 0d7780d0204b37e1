//! The 3D spatial operations burn lacks, built from its differentiable primitives: the trilinear
//! warp (a spatial transformer with gradients to the image and the displacement), the nearest warp
//! for labels, scaling and squaring, linear resizing of images and fields, and the Jacobian
//! determinant.
//!
//! The warp gathers the eight corners of each sample and mixes them with weights made from the
//! sample's fractional position, so burn's autodiff gives the image gradient (gather's backward is
//! a scatter-add) and the displacement gradient (through the weights) without a custom op.
//! Samples outside the volume take the border value (LapIRN's border padding). Resizing multiplies
//! by an interpolation matrix along each axis, which is exact linear interpolation and cheaper
//! than `conv_transpose3d` in the decoders. Displacements are in voxels of their own grid, channel
//! `c` along voxel axis `c` (`i`, `j`, `k`), see [`super::tensor`].

use burn::tensor::{Device, Int, Tensor, TensorData};

/// Sampling positions of the identity transform on one lattice, made once per lattice size.
#[derive(Clone, Debug)]
pub struct Lattice {
    dims_kji: [usize; 3],
    /// `[1, 3, k, j, i]`: each voxel's own `(i, j, k)`.
    identity: Tensor<5>,
}

impl Lattice {
    pub fn new(dims_kji: [usize; 3], device: &Device) -> Lattice {
        let [d, h, w] = dims_kji;
        let n = d * h * w;
        let mut values = vec![0.0f32; 3 * n];
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    let v = i + w * (j + h * k);
                    values[v] = i as f32;
                    values[n + v] = j as f32;
                    values[2 * n + v] = k as f32;
                }
            }
        }
        let identity = Tensor::from_data(TensorData::new(values, [1, 3, d, h, w]), device);
        Lattice { dims_kji, identity }
    }

    pub fn dims_kji(&self) -> [usize; 3] {
        self.dims_kji
    }

    pub fn device(&self) -> Device {
        self.identity.device()
    }

    /// The displacement of `x ↦ (I + A) (x − c) + c + t` about the lattice centre `c`, in voxels,
    /// from twelve parameters per batch item (`A` row by row, then `t` in voxels): zero parameters
    /// give the identity.
    pub fn affine_displacement(&self, params: Tensor<2>) -> Tensor<5> {
        let [d, h, w] = self.dims_kji;
        let [b, _] = params.dims();
        let n = d * h * w;
        let x = self.centred_identity().reshape([1, 3, n]);
        let a = params.clone().narrow(1, 0, 9).reshape([b, 3, 3]);
        let t = params.narrow(1, 9, 3).reshape([b, 3, 1]);
        (a.matmul(x) + t).reshape([b, 3, d, h, w])
    }

    /// `[1, 3, k, j, i]`: each voxel's `(i, j, k)` relative to the lattice centre.
    pub fn centred_identity(&self) -> Tensor<5> {
        let [d, h, w] = self.dims_kji;
        let centre = [w, h, d].map(|n| (n - 1) as f32 / 2.0);
        let centre =
            Tensor::<1>::from_floats(centre, &self.identity.device()).reshape([1, 3, 1, 1, 1]);
        self.identity.clone() - centre
    }

    /// `image` (`[b, c, k, j, i]` on this lattice) sampled trilinearly at `x + disp_vox(x)`.
    pub fn warp_linear(&self, image: Tensor<5>, disp_vox: Tensor<5>) -> Tensor<5> {
        let [b, c, d, h, w] = image.dims();
        let n = d * h * w;
        let positions = self.positions(disp_vox, b);
        let mut lows = Vec::with_capacity(3);
        let mut fracs = Vec::with_capacity(3);
        for (axis, size) in [w, h, d].into_iter().enumerate() {
            let p = positions
                .clone()
                .narrow(1, axis, 1)
                .clamp(0.0, (size - 1) as f32);
            let floor = p.clone().detach().floor();
            fracs.push(p - floor.clone());
            let low = floor.int();
            let high = low.clone().add_scalar(1).clamp_max((size - 1) as i32);
            lows.push([low, high]);
        }
        let image = image.reshape([b, c, n]);
        let mut out: Option<Tensor<3>> = None;
        for ck in 0..2 {
            for cj in 0..2 {
                for ci in 0..2 {
                    let index = flat_index([&lows[0][ci], &lows[1][cj], &lows[2][ck]], [w, h]);
                    let weight = corner_weight(&fracs[0], ci)
                        * corner_weight(&fracs[1], cj)
                        * corner_weight(&fracs[2], ck);
                    let value = image.clone().gather(2, index.expand([b, c, n])) * weight;
                    out = Some(match out {
                        Some(acc) => acc + value,
                        None => value,
                    });
                }
            }
        }
        out.expect("eight corners").reshape([b, c, d, h, w])
    }

    /// `image` sampled at the voxel nearest to `x + disp_vox(x)` (border values outside): label
    /// maps stay labels. No gradient flows to the displacement.
    pub fn warp_nearest(&self, image: Tensor<5>, disp_vox: Tensor<5>) -> Tensor<5> {
        let [b, c, d, h, w] = image.dims();
        let n = d * h * w;
        let positions = self.positions(disp_vox, b).detach();
        let nearest: Vec<Tensor<3, Int>> = [w, h, d]
            .into_iter()
            .enumerate()
            .map(|(axis, size)| {
                positions
                    .clone()
                    .narrow(1, axis, 1)
                    .clamp(0.0, (size - 1) as f32)
                    .round()
                    .int()
            })
            .collect();
        let index = flat_index([&nearest[0], &nearest[1], &nearest[2]], [w, h]);
        image
            .reshape([b, c, n])
            .gather(2, index.expand([b, c, n]))
            .reshape([b, c, d, h, w])
    }

    /// The displacement of `exp(velocity_vox)` by scaling and squaring: `velocity / 2^steps`,
    /// composed with itself `steps` times.
    pub fn integrate(&self, velocity_vox: Tensor<5>, steps: u32) -> Tensor<5> {
        let mut disp = velocity_vox.div_scalar(2f32.powi(steps as i32));
        for _ in 0..steps {
            disp = disp.clone() + self.warp_linear(disp.clone(), disp);
        }
        disp
    }

    /// `first` then `second` as one displacement: `x ↦ x + second(x) + first(x + second(x))`,
    /// the map that warps an image by `first` and the result by `second`.
    pub fn compose(&self, first_vox: Tensor<5>, second_vox: Tensor<5>) -> Tensor<5> {
        second_vox.clone() + self.warp_linear(first_vox, second_vox)
    }

    /// Sampling positions `x + disp` as `[b, 3, n]`.
    fn positions(&self, disp_vox: Tensor<5>, batch: usize) -> Tensor<3> {
        let [d, h, w] = self.dims_kji;
        (self.identity.clone() + disp_vox).reshape([batch, 3, d * h * w])
    }
}

/// The linear index `i + w (j + h k)` of corner voxels, `[b, 1, n]`.
fn flat_index(ijk: [&Tensor<3, Int>; 3], [w, h]: [usize; 2]) -> Tensor<3, Int> {
    let [i, j, k] = ijk;
    i.clone() + (j.clone() + k.clone().mul_scalar(h as i32)).mul_scalar(w as i32)
}

/// Linear weight of the low (`0`) or high (`1`) corner given the fractional position.
fn corner_weight(frac: &Tensor<3>, corner: usize) -> Tensor<3> {
    if corner == 1 {
        frac.clone()
    } else {
        frac.clone().neg().add_scalar(1.0)
    }
}

/// `x` (`[b, c, k, j, i]`) resized linearly to `dims_kji`, sample centres aligned with the volume's
/// extent (target voxel `t` reads source position `(t + ½)·n/m − ½`, clamped to the border). A
/// halving averages voxel pairs, so it is the average pooling of an image pyramid.
pub fn resize_linear(x: Tensor<5>, dims_kji: [usize; 3]) -> Tensor<5> {
    let device = x.device();
    let mut x = x;
    // Axis 4 is i, 3 is j, 2 is k; resizing one axis at a time keeps each matrix small.
    for (axis, target) in [(4usize, dims_kji[2]), (3, dims_kji[1]), (2, dims_kji[0])] {
        let source = x.dims()[axis];
        if source == target {
            continue;
        }
        let matrix = interpolation_matrix(source, target, &device);
        let moved = x.swap_dims(axis, 4);
        let dims = moved.dims();
        let rows = dims[..4].iter().product::<usize>();
        let resized = moved.reshape([rows, source]).matmul(matrix);
        x = resized
            .reshape([dims[0], dims[1], dims[2], dims[3], target])
            .swap_dims(axis, 4);
    }
    x
}

/// A displacement in voxels resized to `dims_kji`, its vectors rescaled into the new voxels.
pub fn resize_field(disp_vox: Tensor<5>, dims_kji: [usize; 3]) -> Tensor<5> {
    let [_, _, d, h, w] = disp_vox.dims();
    let device = disp_vox.device();
    let scale = [
        dims_kji[2] as f32 / w as f32,
        dims_kji[1] as f32 / h as f32,
        dims_kji[0] as f32 / d as f32,
    ];
    let scale = Tensor::<1>::from_floats(scale, &device).reshape([1, 3, 1, 1, 1]);
    resize_linear(disp_vox, dims_kji) * scale
}

/// `[source, target]`: column `t` holds the linear weights of target sample `t`.
fn interpolation_matrix(source: usize, target: usize, device: &Device) -> Tensor<2> {
    let mut m = vec![0.0f32; source * target];
    for t in 0..target {
        let p = ((t as f64 + 0.5) * source as f64 / target as f64 - 0.5)
            .clamp(0.0, (source - 1) as f64);
        let lo = p.floor() as usize;
        let hi = (lo + 1).min(source - 1);
        let f = (p - lo as f64) as f32;
        m[lo * target + t] += 1.0 - f;
        m[hi * target + t] += f;
    }
    Tensor::from_data(TensorData::new(m, [source, target]), device)
}
