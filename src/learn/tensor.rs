//! Volumes as burn tensors and back. A volume is `[batch, channel, k, j, i]` with `i` fastest, the
//! order our volumes are stored in, so conversion is a copy; a displacement has three channels, the
//! displacement along voxel axes `i`, `j` and `k` in voxels of its grid.

use crate::error::{Error, Result};
use crate::volume::{Grid, ScalarVolume};
use burn::tensor::{Device, Tensor, TensorData};

/// Tensor dims `[k, j, i]` of a grid whose dims are `[i, j, k]`.
pub fn spatial_dims(grid: &Grid) -> [usize; 3] {
    let [ni, nj, nk] = grid.dims();
    [nk, nj, ni]
}

/// One `[1, 1, k, j, i]` tensor of `volume`'s values.
pub fn scalar_tensor(volume: &ScalarVolume, device: &Device) -> Tensor<5> {
    let [d, h, w] = spatial_dims(volume.grid());
    Tensor::from_data(
        TensorData::new(volume.data().to_vec(), [1, 1, d, h, w]),
        device,
    )
}

/// A tensor of `values` (`i` fastest within each channel) shaped `[1, channels, k, j, i]`.
pub fn tensor_from_values(
    values: Vec<f32>,
    channels: usize,
    dims_kji: [usize; 3],
    device: &Device,
) -> Tensor<5> {
    let [d, h, w] = dims_kji;
    Tensor::from_data(TensorData::new(values, [1, channels, d, h, w]), device)
}

/// Reads a tensor's values back to the CPU, in its element order.
pub fn tensor_values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Gpu(format!("reading a tensor back: {e:?}")))
}

/// Reads a one-element tensor back as a number.
pub fn scalar_value(tensor: Tensor<1>) -> Result<f64> {
    let values = tensor_values(tensor)?;
    match values.as_slice() {
        [v] => Ok(f64::from(*v)),
        other => Err(Error::Gpu(format!(
            "expected one value, the tensor held {}",
            other.len()
        ))),
    }
}
