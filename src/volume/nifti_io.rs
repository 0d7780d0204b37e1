//! NIfTI-1 read and write (`.nii`, `.nii.gz`) for scalar images, label maps and vector fields.
//!
//! The `nifti` crate parses the 348-byte header (byte order included); the geometry, the data
//! decoding and the writer are ours, because the crate's writer is tied to `ndarray`, writes in place
//! rather than atomically, and its affine helpers need `nalgebra`. Data are decoded straight from
//! the decompressed bytes into f32/i32 buffers without an intermediate array.
//!
//! Rules, as the NIfTI-1 standard and nibabel apply them:
//! - the affine is the sform when `sform_code > 0`, else the qform when `qform_code > 0`, else
//!   `diag(pixdim)` (the standard's "method 1");
//! - `scl_slope`/`scl_inter` are applied when the slope is finite and non-zero;
//! - dimensions beyond the third: a trailing singleton reads as 3D, a 4D label file reads as channels,
//!   and a vector field is 5D `[x, y, z, 1, 3]` with intent `NIFTI_INTENT_VECTOR`, a displacement
//!   field the same with `NIFTI_INTENT_DISPVECT` (see [`write_displacement`]); 4D `[x, y, z, 3]` is
//!   accepted on read.

use super::grid::{Affine, Grid, det3};
use super::image::{LabelVolume, ScalarVolume, VectorField};
use crate::error::{Error, Result};
use crate::parallel::for_each_slice;
use std::io::{Read, Write};
use std::path::Path;

const HEADER_LEN: usize = 348;
/// Header plus the four-byte extension flag.
const DATA_OFFSET: usize = 352;
const INTENT_VECTOR: i16 = 1007;
const INTENT_DISPVECT: i16 = 1006;
/// `xyzt_units`: millimetres and seconds.
const UNITS_MM_SEC: u8 = 2 | 8;
const GZIP_LEVEL: u32 = 6;

/// Voxel storage types Warpbench reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl DataType {
    fn from_code(code: i16) -> Option<DataType> {
        Some(match code {
            2 => DataType::U8,
            256 => DataType::I8,
            512 => DataType::U16,
            4 => DataType::I16,
            768 => DataType::U32,
            8 => DataType::I32,
            16 => DataType::F32,
            64 => DataType::F64,
            _ => return None,
        })
    }

    fn code(self) -> i16 {
        match self {
            DataType::U8 => 2,
            DataType::I8 => 256,
            DataType::U16 => 512,
            DataType::I16 => 4,
            DataType::U32 => 768,
            DataType::I32 => 8,
            DataType::F32 => 16,
            DataType::F64 => 64,
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::F64 => 8,
        }
    }

    /// The numpy name (`uint8`, `int16`, `float32`…), as nibabel reports it.
    pub fn name(self) -> &'static str {
        match self {
            DataType::U8 => "uint8",
            DataType::I8 => "int8",
            DataType::U16 => "uint16",
            DataType::I16 => "int16",
            DataType::U32 => "uint32",
            DataType::I32 => "int32",
            DataType::F32 => "float32",
            DataType::F64 => "float64",
        }
    }

    fn is_float(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64)
    }
}

/// Where the voxel-to-world affine came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffineSource {
    Sform,
    Qform,
    Pixdim,
}

/// What the header says, validated.
#[derive(Clone, Debug)]
pub struct NiftiInfo {
    /// All dimensions as stored (`dim[1..=dim[0]]`).
    pub dims: Vec<usize>,
    pub grid: Grid,
    pub dtype: DataType,
    pub intent_code: i16,
    pub affine_source: AffineSource,
    /// `(slope, intercept)` when scaling applies.
    pub scaling: Option<(f32, f32)>,
}

impl NiftiInfo {
    /// Number of 3D volumes stored (product of the dimensions beyond the third).
    pub fn channels(&self) -> usize {
        self.dims.iter().skip(3).product()
    }
}

/// A decoded file: header plus the raw voxel bytes (native order after decoding).
struct RawNifti {
    info: NiftiInfo,
    bytes: Vec<u8>,
    offset: usize,
    big_endian: bool,
}

/// Reads only the header (decompressing just its first bytes).
pub fn read_info(path: &Path) -> Result<NiftiInfo> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    open_stream(path, std::io::BufReader::new(file))?
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| stream_error(path, e))?;
    Ok(parse_header(path, &head)?.0)
}

/// Reads a scalar image. A 4D file with more than one volume is refused (read it as channels).
pub fn read_scalar(path: &Path) -> Result<ScalarVolume> {
    scalar_from_raw(path, read_raw(path)?)
}

fn scalar_from_raw(path: &Path, raw: RawNifti) -> Result<ScalarVolume> {
    if raw.info.channels() != 1 {
        return Err(Error::format(
            path,
            format!(
                "has {} volumes (dims {:?}); expected one 3D image",
                raw.info.channels(),
                raw.info.dims
            ),
        ));
    }
    let data = decode_f32(path, &raw)?;
    ScalarVolume::new(raw.info.grid, data)
}

/// Reads a scalar image from bytes in memory (an embedded asset); `name` appears in errors.
pub fn read_scalar_bytes(name: &Path, bytes: &[u8]) -> Result<ScalarVolume> {
    scalar_from_raw(name, decode_raw(name, bytes)?)
}

/// Reads a label map from bytes in memory, its channels merged as [`read_labels`] does; `name`
/// appears in errors.
pub fn read_labels_bytes(name: &Path, bytes: &[u8]) -> Result<LabelVolume> {
    one_label_map(name, labels_from_raw(name, decode_raw(name, bytes)?)?)
}

/// Reads every 3D volume of a file as f32 values, with the header; for `info` and multi-volume files.
pub fn read_all_f32(path: &Path) -> Result<(NiftiInfo, Vec<f32>)> {
    let raw = read_raw(path)?;
    let data = decode_f32(path, &raw)?;
    Ok((raw.info, data))
}

/// Reads a label map. A 4D file's channels are merged into one map
/// ([`LabelVolume::merge_channels`]), which is logged, with a warning where channels overlap.
pub fn read_labels(path: &Path) -> Result<LabelVolume> {
    one_label_map(path, read_label_channels(path)?)
}

fn one_label_map(path: &Path, mut channels: Vec<LabelVolume>) -> Result<LabelVolume> {
    if channels.len() == 1 {
        return Ok(channels.remove(0));
    }
    let (labels, merge) =
        LabelVolume::merge_channels(channels).map_err(|e| Error::format(path, e.to_string()))?;
    let ids = if merge.renumbered {
        "each channel's voxels take its number as their id"
    } else {
        "their ids are apart and kept"
    };
    log::info!(
        "{}: {} label channels merged into one map; {ids}",
        path.display(),
        merge.channels
    );
    if merge.overlapping_voxels > 0 {
        log::warn!(
            "{}: {} voxels are in more than one label channel; each takes its last channel's id",
            path.display(),
            merge.overlapping_voxels
        );
    }
    Ok(labels)
}

/// Reads a label file with one or more channels (a 4D label file gives one map per channel).
pub fn read_label_channels(path: &Path) -> Result<Vec<LabelVolume>> {
    labels_from_raw(path, read_raw(path)?)
}

fn labels_from_raw(path: &Path, raw: RawNifti) -> Result<Vec<LabelVolume>> {
    let values = decode_f32(path, &raw)?;
    let n = raw.info.grid.voxel_count();
    let mut ids = Vec::with_capacity(values.len());
    for (index, &v) in values.iter().enumerate() {
        if v.fract() != 0.0 || v.abs() > i32::MAX as f32 {
            return Err(Error::format(
                path,
                format!("label value {v} at voxel {index} is not an integer id"),
            ));
        }
        ids.push(v as i32);
    }
    ids.chunks_exact(n)
        .map(|c| LabelVolume::new(raw.info.grid.clone(), c.to_vec()))
        .collect()
}

/// Reads a vector field (5D `[x,y,z,1,3]` or 4D `[x,y,z,3]`); components as stored.
pub fn read_vector_field(path: &Path) -> Result<VectorField> {
    Ok(vector_field_from_raw(path, read_raw(path)?)?.0)
}

/// The field and the file's intent code.
fn vector_field_from_raw(path: &Path, raw: RawNifti) -> Result<(VectorField, i16)> {
    let d = &raw.info.dims;
    let shape_ok = (d.len() == 5 && d[3] == 1 && d[4] == 3) || (d.len() == 4 && d[3] == 3);
    if !shape_ok {
        return Err(Error::format(
            path,
            format!("dims {d:?} are not a 3-vector field ([x,y,z,1,3] or [x,y,z,3])"),
        ));
    }
    let values = decode_f32(path, &raw)?;
    let n = raw.info.grid.voxel_count();
    let data = (0..n)
        .map(|v| [values[v], values[n + v], values[2 * n + v]])
        .collect();
    Ok((VectorField::new(raw.info.grid, data)?, raw.info.intent_code))
}

/// Writes a scalar image as float32 (bit-exact round trip).
pub fn write_scalar(path: &Path, volume: &ScalarVolume) -> Result<()> {
    let bytes: &[u8] = bytemuck::cast_slice(volume.data());
    write_nifti(path, volume.grid(), &[], DataType::F32, 0, bytes)
}

/// Writes a label map in the smallest integer type that holds its ids.
pub fn write_labels(path: &Path, labels: &LabelVolume) -> Result<()> {
    let (lo, hi) = labels
        .data()
        .iter()
        .fold((0i32, 0i32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo >= 0 && hi <= u8::MAX as i32 {
        let bytes: Vec<u8> = labels.data().iter().map(|&v| v as u8).collect();
        write_nifti(path, labels.grid(), &[], DataType::U8, 0, &bytes)
    } else if lo >= i16::MIN as i32 && hi <= i16::MAX as i32 {
        let v: Vec<i16> = labels.data().iter().map(|&v| v as i16).collect();
        write_nifti(
            path,
            labels.grid(),
            &[],
            DataType::I16,
            0,
            bytemuck::cast_slice(&v),
        )
    } else {
        write_nifti(
            path,
            labels.grid(),
            &[],
            DataType::I32,
            0,
            bytemuck::cast_slice(labels.data()),
        )
    }
}

/// Writes a vector field as 5D `[x, y, z, 1, 3]` float32 with intent `NIFTI_INTENT_VECTOR`,
/// components as they are.
pub fn write_vector_field(path: &Path, field: &VectorField) -> Result<()> {
    write_vectors(path, field, INTENT_VECTOR)
}

/// Writes a displacement field (RAS mm, the convention of `volume::warp`) with intent
/// `NIFTI_INTENT_DISPVECT`. ITK (so ANTs, SimpleITK and Slicer) converts such vectors from RAS to its
/// LPS physical space on reading, so they read it as the same transform.
pub fn write_displacement(path: &Path, field: &VectorField) -> Result<()> {
    write_vectors(path, field, INTENT_DISPVECT)
}

/// NIfTI stores the vector component as the slowest axis (dim 5).
fn write_vectors(path: &Path, field: &VectorField, intent: i16) -> Result<()> {
    let n = field.grid().voxel_count();
    let mut planar = vec![0f32; 3 * n];
    for (v, x) in field.data().iter().enumerate() {
        for c in 0..3 {
            planar[c * n + v] = x[c];
        }
    }
    write_nifti(
        path,
        field.grid(),
        &[1, 3],
        DataType::F32,
        intent,
        bytemuck::cast_slice(&planar),
    )
}

/// Reads a displacement field into RAS mm. Intent `NIFTI_INTENT_DISPVECT` means RAS vectors (ours,
/// and what ITK reads as such); any other intent is taken as ITK's own output (ANTs, greedy,
/// SimpleITK write LPS vectors with `NIFTI_INTENT_VECTOR`) and converted from LPS.
pub fn read_displacement(path: &Path) -> Result<VectorField> {
    let (mut field, intent) = vector_field_from_raw(path, read_raw(path)?)?;
    if intent != INTENT_DISPVECT {
        for v in field.data_mut() {
            v[0] = -v[0];
            v[1] = -v[1];
        }
    }
    Ok(field)
}

fn is_gz(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

fn stream_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            Error::format(path, format!("corrupt gzip stream ({e})"))
        }
        _ => Error::io(path, e),
    }
}

/// Wraps `input` in a gzip decoder when it starts with the gzip magic.
fn open_stream<'a, R: std::io::BufRead + 'a>(
    path: &Path,
    mut input: R,
) -> Result<Box<dyn Read + 'a>> {
    let start = input.fill_buf().map_err(|e| Error::io(path, e))?;
    Ok(if is_gz(start) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    })
}

fn read_raw(path: &Path) -> Result<RawNifti> {
    let file = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_raw(path, &file)
}

/// Decodes a whole file held in memory; `path` only names it in errors.
fn decode_raw(path: &Path, file: &[u8]) -> Result<RawNifti> {
    let compressed = is_gz(file);
    let mut stream = open_stream(path, file)?;
    let mut bytes = Vec::with_capacity(if compressed { DATA_OFFSET } else { file.len() });
    (&mut stream)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| stream_error(path, e))?;
    let (info, offset, big_endian) = parse_header(path, &bytes)?;
    let data_len = data_bytes(path, &info)?;
    let needed = offset + data_len;
    check_memory(path, data_len + info.dims.iter().product::<usize>() * 4)?;
    if compressed && let Some(whole) = inflate_whole(file, needed) {
        return Ok(RawNifti {
            info,
            bytes: whole,
            offset,
            big_endian,
        });
    }
    bytes.reserve_exact(needed.saturating_sub(bytes.len()));
    stream
        .take((needed - bytes.len()) as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| stream_error(path, e))?;
    if bytes.len() < needed {
        return Err(Error::format(
            path,
            format!(
                "truncated: the header promises {data_len} data bytes from offset {offset}, \
                 the file holds {}",
                bytes.len().saturating_sub(offset)
            ),
        ));
    }
    Ok(RawNifti {
        info,
        bytes,
        offset,
        big_endian,
    })
}

/// Fast path for a single-member gzip file: libdeflate inflates the whole buffer in one call, about
/// 1.4× faster than streaming zlib, but needs the output size, which the gzip trailer (ISIZE, the
/// size modulo 2³²) gives. `None` sends the file through the streaming decoder instead, which also
/// reports truncation and corruption precisely.
fn inflate_whole(file: &[u8], needed: usize) -> Option<Vec<u8>> {
    let trailer: [u8; 4] = file.get(file.len().checked_sub(4)?..)?.try_into().ok()?;
    let isize = u32::from_le_bytes(trailer) as usize;
    if isize != needed && !(isize > needed && isize - needed <= 1 << 20) {
        return None;
    }
    let mut out = vec![0u8; isize];
    let mut inflater = libdeflater::Decompressor::new();
    let n = inflater.gzip_decompress(file, &mut out).ok()?;
    (n == isize).then_some(out)
}

/// Validates the header; returns the info, the data offset and whether data are big-endian.
fn parse_header(path: &Path, head: &[u8]) -> Result<(NiftiInfo, usize, bool)> {
    if head.len() < HEADER_LEN {
        return Err(Error::format(
            path,
            format!(
                "truncated: {} bytes, shorter than a NIfTI-1 header (348)",
                head.len()
            ),
        ));
    }
    let sizeof_hdr = i32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
    if sizeof_hdr == 540 || sizeof_hdr.swap_bytes() == 540 {
        return Err(Error::format(
            path,
            "NIfTI-2 files are not supported; convert to NIfTI-1",
        ));
    }
    if sizeof_hdr != 348 && sizeof_hdr.swap_bytes() != 348 {
        return Err(Error::format(
            path,
            "not a NIfTI-1 file (header size field is not 348)",
        ));
    }
    let h = nifti::NiftiHeader::from_reader(head)
        .map_err(|e| Error::format(path, format!("invalid NIfTI-1 header: {e}")))?;
    if h.magic == *b"ni1\0" {
        return Err(Error::format(
            path,
            "a .hdr/.img pair is not supported; use a single .nii file",
        ));
    }
    let big_endian = h.endianness == nifti::Endianness::Big;

    let ndim = h.dim[0] as usize;
    if !(1..=7).contains(&ndim) {
        return Err(Error::format(
            path,
            format!("dim[0] = {} is not in 1..=7", h.dim[0]),
        ));
    }
    let mut dims = Vec::with_capacity(ndim);
    for (axis, &d) in h.dim[1..=ndim].iter().enumerate() {
        let d = d as i16;
        if d <= 0 {
            return Err(Error::format(
                path,
                format!("dimension {} is {d}; must be positive", axis + 1),
            ));
        }
        dims.push(d as usize);
    }
    let spatial: [usize; 3] = std::array::from_fn(|a| dims.get(a).copied().unwrap_or(1));
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::format(
                path,
                format!("dimensions {dims:?} overflow the voxel count"),
            )
        })?;

    let pixdim: [f64; 3] = std::array::from_fn(|a| h.pixdim[a + 1] as f64);
    for (a, &p) in pixdim.iter().enumerate().take(ndim.min(3)) {
        if !(p.is_finite() && p > 0.0) {
            return Err(Error::format(
                path,
                format!("voxel spacing pixdim[{}] = {p} is not positive", a + 1),
            ));
        }
    }

    let (world_from_voxel, affine_source) = if h.sform_code > 0 {
        let rows = [h.srow_x, h.srow_y, h.srow_z];
        let mut a = Affine::IDENTITY;
        for r in 0..3 {
            for c in 0..4 {
                a.0[r][c] = rows[r][c] as f64;
            }
        }
        (a, AffineSource::Sform)
    } else if h.qform_code > 0 {
        (qform_affine(&h, pixdim), AffineSource::Qform)
    } else {
        let spacing: [f64; 3] = std::array::from_fn(|a| if a < ndim { pixdim[a] } else { 1.0 });
        let m = [
            [spacing[0], 0.0, 0.0],
            [0.0, spacing[1], 0.0],
            [0.0, 0.0, spacing[2]],
        ];
        (
            Affine::from_linear_translation(m, [0.0; 3]),
            AffineSource::Pixdim,
        )
    };
    let grid = Grid::new(spatial, world_from_voxel)
        .map_err(|problem| Error::format(path, format!("{affine_source:?} affine: {problem}")))?;

    let dtype = DataType::from_code(h.datatype).ok_or_else(|| {
        Error::format(
            path,
            format!(
                "unsupported datatype code {} (bitpix {})",
                h.datatype, h.bitpix
            ),
        )
    })?;
    let offset = h.vox_offset;
    if !(offset.is_finite() && offset >= DATA_OFFSET as f32 && offset <= 1e9) {
        return Err(Error::format(
            path,
            format!("vox_offset {offset} is invalid (must be at least 352)"),
        ));
    }
    let scaling = (h.scl_slope.is_finite() && h.scl_slope != 0.0)
        .then(|| {
            (
                h.scl_slope,
                if h.scl_inter.is_finite() {
                    h.scl_inter
                } else {
                    0.0
                },
            )
        })
        .filter(|&s| s != (1.0, 0.0));
    let info = NiftiInfo {
        dims,
        grid,
        dtype,
        intent_code: h.intent_code,
        affine_source,
        scaling,
    };
    Ok((info, offset as usize, big_endian))
}

/// The standard's "method 2": rotation from the quaternion `(b, c, d)`, `qfac` from `pixdim[0]`.
fn qform_affine(h: &nifti::NiftiHeader, pixdim: [f64; 3]) -> Affine {
    let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let scale = [pixdim[0], pixdim[1], pixdim[2] * qfac];
    let m = std::array::from_fn(|row| std::array::from_fn(|col| r[row][col] * scale[col]));
    Affine::from_linear_translation(
        m,
        [h.quatern_x as f64, h.quatern_y as f64, h.quatern_z as f64],
    )
}

fn data_bytes(path: &Path, info: &NiftiInfo) -> Result<usize> {
    info.dims
        .iter()
        .try_fold(info.dtype.bytes(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::format(
                path,
                format!("dimensions {:?} overflow the data size", info.dims),
            )
        })
}

/// Refuses a file whose decoded size exceeds the memory available now, before allocating it.
fn check_memory(path: &Path, bytes: usize) -> Result<()> {
    if let Some(available) = available_memory_bytes()
        && bytes as u64 > available
    {
        return Err(Error::format(
            path,
            format!(
                "needs {:.1} GiB to load, only {:.1} GiB of memory is available",
                bytes as f64 / 1073741824.0,
                available as f64 / 1073741824.0
            ),
        ));
    }
    Ok(())
}

fn available_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Converts the stored values to f32 (scaling applied), refusing NaN or infinite values.
fn decode_f32(path: &Path, raw: &RawNifti) -> Result<Vec<f32>> {
    let info = &raw.info;
    let n: usize = info.dims.iter().product();
    let size = info.dtype.bytes();
    let src = &raw.bytes[raw.offset..raw.offset + n * size];
    let mut out = vec![0f32; n];
    let (slope, inter) = info.scaling.unwrap_or((1.0, 0.0));
    let scaled = info.scaling.is_some();
    let (dtype, big) = (info.dtype, raw.big_endian);
    const CHUNK: usize = 1 << 20;
    for_each_slice(&mut out, CHUNK, |c, dst| {
        let src = &src[c * CHUNK * size..(c * CHUNK + dst.len()) * size];
        decode_chunk(dtype, big, src, dst);
        if scaled {
            for v in dst.iter_mut() {
                *v = *v * slope + inter;
            }
        }
    });
    if dtype.is_float() || scaled {
        let bad = out.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            let first = out.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(Error::format(
                path,
                format!("{bad} voxels are NaN or infinite (first at linear index {first})"),
            ));
        }
    }
    Ok(out)
}

macro_rules! decode_as {
    ($ty:ty, $src:expr, $dst:expr, $big:expr) => {{
        const W: usize = std::mem::size_of::<$ty>();
        for (d, s) in $dst.iter_mut().zip($src.chunks_exact(W)) {
            let b: [u8; W] = s.try_into().expect("exact chunk");
            *d = if $big {
                <$ty>::from_be_bytes(b)
            } else {
                <$ty>::from_le_bytes(b)
            } as f32;
        }
    }};
}

fn decode_chunk(dtype: DataType, big: bool, src: &[u8], dst: &mut [f32]) {
    match dtype {
        DataType::U8 => decode_as!(u8, src, dst, big),
        DataType::I8 => decode_as!(i8, src, dst, big),
        DataType::U16 => decode_as!(u16, src, dst, big),
        DataType::I16 => decode_as!(i16, src, dst, big),
        DataType::U32 => decode_as!(u32, src, dst, big),
        DataType::I32 => decode_as!(i32, src, dst, big),
        DataType::F32 => decode_as!(f32, src, dst, big),
        DataType::F64 => decode_as!(f64, src, dst, big),
    }
}

/// The quaternion form of an affine whose linear part is a rotation times positive scales (with
/// an optional flip of the third axis, `qfac = -1`); `None` for sheared or degenerate matrices.
fn quaternion_of(affine: &Affine) -> Option<([f64; 3], f64)> {
    let m = affine.linear();
    let scale: [f64; 3] =
        std::array::from_fn(|c| (0..3).map(|r| m[r][c] * m[r][c]).sum::<f64>().sqrt());
    let mut r: [[f64; 3]; 3] =
        std::array::from_fn(|row| std::array::from_fn(|col| m[row][col] / scale[col]));
    let det = det3(&r);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    for row in &mut r {
        row[2] *= qfac;
    }
    for i in 0..3 {
        for j in 0..3 {
            let dot: f64 = (0..3).map(|k| r[k][i] * r[k][j]).sum();
            if (dot - if i == j { 1.0 } else { 0.0 }).abs() > 1e-4 {
                return None;
            }
        }
    }
    let trace = r[0][0] + r[1][1] + r[2][2];
    let (a, b, c, d);
    if trace > 0.0 {
        let s = (trace + 1.0).sqrt() * 2.0;
        a = 0.25 * s;
        b = (r[2][1] - r[1][2]) / s;
        c = (r[0][2] - r[2][0]) / s;
        d = (r[1][0] - r[0][1]) / s;
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
        a = (r[2][1] - r[1][2]) / s;
        b = 0.25 * s;
        c = (r[0][1] + r[1][0]) / s;
        d = (r[0][2] + r[2][0]) / s;
    } else if r[1][1] > r[2][2] {
        let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
        a = (r[0][2] - r[2][0]) / s;
        b = (r[0][1] + r[1][0]) / s;
        c = 0.25 * s;
        d = (r[1][2] + r[2][1]) / s;
    } else {
        let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
        a = (r[1][0] - r[0][1]) / s;
        b = (r[0][2] + r[2][0]) / s;
        c = (r[1][2] + r[2][1]) / s;
        d = 0.25 * s;
    }
    // The standard stores only (b, c, d) and takes a >= 0.
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    Some(([b * sign, c * sign, d * sign], qfac))
}

/// Serialises a little-endian NIfTI-1 header for `grid` with extra dims `extra` beyond the third.
fn header_bytes(grid: &Grid, extra: &[usize], dtype: DataType, intent: i16) -> Vec<u8> {
    let mut h = vec![0u8; DATA_OFFSET];
    let put =
        |h: &mut Vec<u8>, at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(&mut h, 0, &348i32.to_le_bytes());
    let mut dim = [1i16; 8];
    dim[0] = (3 + extra.len()) as i16;
    for (a, &d) in grid.dims().iter().chain(extra).enumerate() {
        dim[a + 1] = d as i16;
    }
    for (a, d) in dim.iter().enumerate() {
        put(&mut h, 40 + 2 * a, &d.to_le_bytes());
    }
    put(&mut h, 68, &intent.to_le_bytes());
    put(&mut h, 70, &dtype.code().to_le_bytes());
    put(&mut h, 72, &((dtype.bytes() * 8) as i16).to_le_bytes());
    let spacing = grid.spacing_mm();
    let quaternion = quaternion_of(grid.world_from_voxel());
    let mut pixdim = [1f32; 8];
    pixdim[0] = quaternion.map_or(1.0, |(_, qfac)| qfac as f32);
    for a in 0..3 {
        pixdim[a + 1] = spacing[a] as f32;
    }
    for (a, p) in pixdim.iter().enumerate() {
        put(&mut h, 76 + 4 * a, &p.to_le_bytes());
    }
    put(&mut h, 108, &(DATA_OFFSET as f32).to_le_bytes());
    put(&mut h, 112, &1f32.to_le_bytes());
    put(&mut h, 123, &[UNITS_MM_SEC]);
    let descrip = b"Warpbench";
    put(&mut h, 148, descrip);
    let t = grid.world_from_voxel().translation();
    if let Some((q, _)) = quaternion {
        put(&mut h, 252, &1i16.to_le_bytes());
        for (i, v) in q.iter().chain(&t).enumerate() {
            put(&mut h, 256 + 4 * i, &(*v as f32).to_le_bytes());
        }
    }
    put(&mut h, 254, &1i16.to_le_bytes());
    for (r, row) in grid.world_from_voxel().0.iter().take(3).enumerate() {
        for (c, v) in row.iter().enumerate() {
            put(&mut h, 280 + 16 * r + 4 * c, &(*v as f32).to_le_bytes());
        }
    }
    put(&mut h, 344, b"n+1\0");
    h
}

/// Writes a `.nii` or `.nii.gz` (by extension) through a temporary file renamed into place, so a
/// failed write never leaves a partial file under the final name.
fn write_nifti(
    path: &Path,
    grid: &Grid,
    extra: &[usize],
    dtype: DataType,
    intent: i16,
    data: &[u8],
) -> Result<()> {
    let header = header_bytes(grid, extra, dtype, intent);
    let gz = path.to_string_lossy().ends_with(".gz");
    crate::atomic::write_with(path, |file| {
        if gz {
            let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::new(GZIP_LEVEL));
            enc.write_all(&header)?;
            enc.write_all(data)?;
            enc.finish()?;
        } else {
            let mut w = std::io::BufWriter::new(file);
            w.write_all(&header)?;
            w.write_all(data)?;
            w.flush()?;
        }
        Ok(())
    })
}

/// Writes a scalar image as uint8, for compact assets; values must already lie in `0..=255`.
pub fn write_scalar_u8(path: &Path, volume: &ScalarVolume) -> Result<()> {
    let (lo, hi) = volume.min_max();
    if lo < -0.5 || hi > 255.5 {
        return Err(Error::format(
            path,
            format!("values {lo}..{hi} do not fit in uint8"),
        ));
    }
    let bytes: Vec<u8> = volume.data().iter().map(|&v| v.round() as u8).collect();
    write_nifti(path, volume.grid(), &[], DataType::U8, 0, &bytes)
}
