//! A 3×3×3 convolution (stride 1 or 2, zero padding 1) as gathered patches times a weight matrix.
//!
//! burn's `conv3d` backward pass on lavapipe took about ten times its forward pass (its input
//! gradient is a transposed convolution): 9 s per iteration for a small U-Net at half
//! resolution. Written as 27 shifted slices and one matrix product, the backward pass is slices
//! and matrix products too, which burn does well on every device.

use burn::module::{Initializer, Module, Param};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, s};

#[derive(Module, Debug)]
pub struct Conv3x3 {
    /// `[outputs, inputs · 27]`, the 27 taps of each input channel together (`k`, `j`, `i` order).
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
    stride: usize,
}

impl Conv3x3 {
    /// Weights uniform in ±1/√fan-in (burn's and PyTorch's default for convolutions).
    pub fn new(inputs: usize, outputs: usize, stride: usize, device: &Device) -> Conv3x3 {
        let bound = 1.0 / ((inputs * 27) as f64).sqrt();
        Conv3x3::with_initializer(
            inputs,
            outputs,
            stride,
            Initializer::Uniform {
                min: -bound,
                max: bound,
            },
            device,
        )
    }

    pub fn with_initializer(
        inputs: usize,
        outputs: usize,
        stride: usize,
        initializer: Initializer,
        device: &Device,
    ) -> Conv3x3 {
        Conv3x3 {
            weight: initializer.init([outputs, inputs * 27], device),
            bias: Initializer::Zeros.init([outputs], device),
            stride,
        }
    }

    /// `[b, inputs, d, h, w]` → `[b, outputs, ⌈d/stride⌉, ⌈h/stride⌉, ⌈w/stride⌉]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let [b, c, d, h, w] = x.dims();
        let st = self.stride;
        let out = [d, h, w].map(|n| (n - 1) / st + 1);
        let n = out.iter().product::<usize>();
        let padded = x.pad([(1, 1), (1, 1), (1, 1)], PadMode::Constant(0.0));
        let mut taps = Vec::with_capacity(27);
        for kd in 0..3 {
            for kh in 0..3 {
                for kw in 0..3 {
                    let tap = padded.clone().slice(s![
                        ..,
                        ..,
                        kd..kd + st * (out[0] - 1) + 1;st,
                        kh..kh + st * (out[1] - 1) + 1;st,
                        kw..kw + st * (out[2] - 1) + 1;st
                    ]);
                    taps.push(tap.reshape([b, c, 1, n]));
                }
            }
        }
        let patches = Tensor::cat(taps, 2).reshape([b, c * 27, n]);
        let [outputs, k] = self.weight.dims();
        let weight = self
            .weight
            .val()
            .reshape([1, outputs, k])
            .expand([b, outputs, k]);
        let bias = self.bias.val().reshape([1, outputs, 1]);
        (weight.matmul(patches) + bias).reshape([b, outputs, out[0], out[1], out[2]])
    }
}
