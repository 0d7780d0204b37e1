//! Benchmark: wall time of the learning module's pieces on the 4 mm brain training grid
//! (48 × 64 × 48): the network's forward and backward pass, the warp (one channel and a one-hot
//! label map), the losses. Each is run, read back (which waits for the device), median of 5.
//! `cargo bench --bench learn`. Shows where a training iteration's time goes.

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;
use warpbench::gpu::GpuContext;
use warpbench::learn::config::{FieldKind, NetConfig};
use warpbench::learn::losses;
use warpbench::learn::nets::{Lattices, RegNet};
use warpbench::learn::spatial::Lattice;
use warpbench::learn::tensor::tensor_values;

fn time(name: &str, mut run: impl FnMut() -> Tensor<1>) {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        tensor_values(run()).unwrap();
        runs.push(start.elapsed().as_secs_f64() * 1e3);
    }
    runs.sort_by(f64::total_cmp);
    println!("{name:<44} {:>9.1} ms", runs[2]);
}

fn main() {
    let ctx = GpuContext::new().expect("a GPU adapter");
    println!("{}", ctx.describe());
    let device = ctx.burn_device().unwrap();
    let train = device.clone().autodiff();
    let dims = [48, 64, 48];
    let [d, h, w] = dims;
    let lattice = Lattice::new(dims, &device);
    let image = || Tensor::<5>::random([1, 1, d, h, w], Distribution::Default, &device);
    let (fixed, moving) = (image(), image());
    let disp = Tensor::<5>::random([1, 3, d, h, w], Distribution::Uniform(-2.0, 2.0), &device);
    let labels = Tensor::<5>::random([1, 38, d, h, w], Distribution::Default, &device);

    layers(&device);
    if std::env::args().any(|a| a == "--layers") {
        return;
    }
    time("warp, 1 channel", || {
        lattice.warp_linear(moving.clone(), disp.clone()).sum()
    });
    time("warp, 38 channels", || {
        lattice.warp_linear(labels.clone(), disp.clone()).sum()
    });
    time("integrate, 7 steps", || {
        lattice.integrate(disp.clone(), 7).sum()
    });
    time("local NCC (window 5)", || {
        losses::local_ncc(fixed.clone(), moving.clone(), 5)
    });
    time("diffusion", || losses::diffusion(disp.clone()));
    time("folding (ten tetrahedra a cube)", || {
        losses::folding(disp.clone())
    });
    let train_lattice = Lattice::new(dims, &train);
    let disp_t = disp.clone().autodiff().require_grad();
    time("folding + backward", || {
        let grads = losses::folding(disp_t.clone()).backward();
        disp_t.grad(&grads).unwrap().sum()
    });
    time("warp 1 channel + backward", || {
        let loss = train_lattice
            .warp_linear(moving.clone(), disp_t.clone())
            .sum();
        let grads = loss.backward();
        disp_t.grad(&grads).unwrap().sum()
    });
    time("warp 38 channels + backward", || {
        let loss = train_lattice
            .warp_linear(labels.clone(), disp_t.clone())
            .sum();
        let grads = loss.backward();
        disp_t.grad(&grads).unwrap().sum()
    });
    for field in [FieldKind::Displacement, FieldKind::Velocity] {
        let config = NetConfig {
            field,
            ..NetConfig::default()
        };
        let net = RegNet::new(&config, &train);
        let lattices = Lattices::new(dims, 1, &device);
        time(&format!("network forward ({field:?})"), || {
            net.valid()
                .forward(&lattices, field, fixed.clone(), moving.clone())
                .disp_vox
                .sum()
        });
        time(&format!("network forward + backward ({field:?})"), || {
            let p = net.forward(&lattices, field, fixed.clone(), moving.clone());
            let loss = p.disp_vox.square().mean();
            let _grads = loss.backward();
            device.sync().unwrap();
            loss.inner()
        });
    }
}

#[allow(dead_code)]
fn layers(device: &burn::tensor::Device) {
    use warpbench::learn::conv::Conv3x3;
    let train = device.clone().autodiff();
    for (c_in, c_out, dims, stride) in [
        (48, 3, [24, 32, 24], 1),
        (2, 16, [48, 64, 48], 2),
        (64, 32, [12, 16, 12], 1),
    ] {
        let conv = Conv3x3::new(c_in, c_out, stride, &train);
        let [d, h, w] = dims;
        let x = Tensor::<5>::random([1, c_in, d, h, w], Distribution::Default, device);
        time(
            &format!("conv {c_in}→{c_out} at {dims:?} /{stride}"),
            || conv.valid().forward(x.clone()).sum(),
        );
        time(
            &format!("conv {c_in}→{c_out} at {dims:?} /{stride} + backward"),
            || {
                let y = conv.forward(x.clone()).sum();
                let _g = y.backward();
                device.sync().unwrap();
                y.inner()
            },
        );
        let weight = Tensor::<5>::random([c_out, c_in, 3, 3, 3], Distribution::Default, device);
        time(
            &format!("burn conv3d {c_in}→{c_out} at {dims:?} /{stride}"),
            || {
                burn::tensor::module::conv3d(
                    x.clone(),
                    weight.clone(),
                    None,
                    burn::tensor::ops::ConvOptions::new([stride; 3], [1; 3], [1; 3], 1),
                )
                .sum()
            },
        );
        let weight_t = weight.clone().autodiff().require_grad();
        let x_t = x.clone().autodiff().require_grad();
        time(
            &format!("burn conv3d {c_in}→{c_out} at {dims:?} /{stride} + backward"),
            || {
                let y = burn::tensor::module::conv3d(
                    x_t.clone(),
                    weight_t.clone(),
                    None,
                    burn::tensor::ops::ConvOptions::new([stride; 3], [1; 3], [1; 3], 1),
                )
                .sum();
                let _g = y.backward();
                device.sync().unwrap();
                y.inner()
            },
        );
    }
}
