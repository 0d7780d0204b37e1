//! The WGSL sources of `shaders/`, embedded at build time, each prefixed by the shared prelude.

/// Shared structs and helpers (`common.wgsl`), prepended to every compute shader.
pub const PRELUDE: &str = include_str!("../../shaders/common.wgsl");

/// `(file name, source without prelude)` of every compute shader, for validation and pipelines.
pub const COMPUTE: &[(&str, &str)] = &[
    ("adam.wgsl", include_str!("../../shaders/adam.wgsl")),
    (
        "affine_gradient.wgsl",
        include_str!("../../shaders/affine_gradient.wgsl"),
    ),
    (
        "descriptor_ssd.wgsl",
        include_str!("../../shaders/descriptor_ssd.wgsl"),
    ),
    ("box_sum.wgsl", include_str!("../../shaders/box_sum.wgsl")),
    (
        "cube_folding.wgsl",
        include_str!("../../shaders/cube_folding.wgsl"),
    ),
    (
        "field_gradient.wgsl",
        include_str!("../../shaders/field_gradient.wgsl"),
    ),
    ("jacobian.wgsl", include_str!("../../shaders/jacobian.wgsl")),
    (
        "velocity_exp.wgsl",
        include_str!("../../shaders/velocity_exp.wgsl"),
    ),
    (
        "laplacian.wgsl",
        include_str!("../../shaders/laplacian.wgsl"),
    ),
    (
        "label_overlap.wgsl",
        include_str!("../../shaders/label_overlap.wgsl"),
    ),
    (
        "label_gradient.wgsl",
        include_str!("../../shaders/label_gradient.wgsl"),
    ),
    ("lncc.wgsl", include_str!("../../shaders/lncc.wgsl")),
    (
        "lncc_gradient.wgsl",
        include_str!("../../shaders/lncc_gradient.wgsl"),
    ),
    (
        "mi_histogram.wgsl",
        include_str!("../../shaders/mi_histogram.wgsl"),
    ),
    ("mi_table.wgsl", include_str!("../../shaders/mi_table.wgsl")),
    (
        "mi_gradient.wgsl",
        include_str!("../../shaders/mi_gradient.wgsl"),
    ),
    (
        "mind_differences.wgsl",
        include_str!("../../shaders/mind_differences.wgsl"),
    ),
    (
        "mind_descriptor.wgsl",
        include_str!("../../shaders/mind_descriptor.wgsl"),
    ),
    (
        "mind_aggregate.wgsl",
        include_str!("../../shaders/mind_aggregate.wgsl"),
    ),
    ("moments.wgsl", include_str!("../../shaders/moments.wgsl")),
    ("mse.wgsl", include_str!("../../shaders/mse.wgsl")),
    ("ncc.wgsl", include_str!("../../shaders/ncc.wgsl")),
    (
        "normalised_step.wgsl",
        include_str!("../../shaders/normalised_step.wgsl"),
    ),
    ("reduce.wgsl", include_str!("../../shaders/reduce.wgsl")),
    (
        "regularisers.wgsl",
        include_str!("../../shaders/regularisers.wgsl"),
    ),
    ("smooth.wgsl", include_str!("../../shaders/smooth.wgsl")),
    (
        "smooth_lines.wgsl",
        include_str!("../../shaders/smooth_lines.wgsl"),
    ),
    ("warp.wgsl", include_str!("../../shaders/warp.wgsl")),
];

/// `(file name, source)` of the render shaders (the window's; they use no prelude).
pub const RENDER: &[(&str, &str)] = &[(
    "slice_display.wgsl",
    include_str!("../../shaders/slice_display.wgsl"),
)];

/// A compute shader's own source, without the prelude.
pub fn compute_file(name: &str) -> Option<&'static str> {
    COMPUTE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

/// The full source of a compute shader: prelude, then the file.
pub fn compute_source(name: &str) -> Option<String> {
    compute_file(name).map(|src| format!("{PRELUDE}\n{src}"))
}
