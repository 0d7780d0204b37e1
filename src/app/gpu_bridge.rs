//! Paint-callback resources for the slice views: two pipelines (`shaders/slice_display.wgsl`: the
//! black around the image, then the image) and a texture per view, living in egui-wgpu's callback
//! resources on the shared device. A view's texture is uploaded only when its composed image
//! changes.

use std::collections::HashMap;
use std::sync::Arc;

pub struct SliceResources {
    background: wgpu::RenderPipeline,
    image: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    nearest: wgpu::Sampler,
    texture_format: wgpu::TextureFormat,
    views: HashMap<u64, ViewGpu>,
}

struct ViewGpu {
    texture: wgpu::Texture,
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    generation: u64,
}

/// Registers the pipeline with eframe's renderer; call once when the window is created.
pub fn install(render_state: &egui_wgpu::RenderState) {
    let device = &render_state.device;
    let source = crate::gpu::shaders::RENDER
        .iter()
        .find(|(n, _)| *n == "slice_display.wgsl")
        .map(|(_, s)| *s)
        .expect("slice_display.wgsl is embedded");
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("slice_display"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("slice_display"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 2,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::NonFiltering),
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("slice_display"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = |fragment: &str| {
        device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("slice_display"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some(fragment),
                targets: &[Some(wgpu::ColorTargetState {
                    format: render_state.target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        })
    };
    let nearest = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("slice nearest"),
        ..Default::default()
    });
    // Composed colours are sRGB-encoded bytes: an sRGB target needs an sRGB texture so the
    // decode on load and the encode on store cancel.
    let texture_format = if render_state.target_format.is_srgb() {
        wgpu::TextureFormat::Rgba8UnormSrgb
    } else {
        wgpu::TextureFormat::Rgba8Unorm
    };
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(SliceResources {
            background: pipeline("fs_background"),
            image: pipeline("fs_image"),
            layout,
            nearest,
            texture_format,
            views: HashMap::new(),
        });
}

/// One view's draw: its image (with a generation that changes with the content) placed at
/// `image_rect` (fractions of the callback's rectangle).
pub struct SliceCallback {
    pub view: u64,
    pub image: Arc<egui::ColorImage>,
    pub generation: u64,
    pub image_rect: [f32; 4],
}

impl egui_wgpu::CallbackTrait for SliceCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(r) = resources.get_mut::<SliceResources>() else {
            return Vec::new();
        };
        let [w, h] = self.image.size.map(|s| s.max(1) as u32);
        let stale = r.views.get(&self.view).is_none_or(|v| {
            let size = v.texture.size();
            (size.width, size.height) != (w, h)
        });
        if stale {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("slice"),
                size: wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: r.texture_format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let params = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("slice params"),
                size: 16,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let view = texture.create_view(&Default::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("slice"),
                layout: &r.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::Sampler(&r.nearest),
                    },
                ],
            });
            r.views.insert(
                self.view,
                ViewGpu {
                    texture,
                    params,
                    bind_group,
                    generation: u64::MAX,
                },
            );
        }
        let v = r.views.get_mut(&self.view).expect("inserted above");
        if v.generation != self.generation {
            let bytes = self.image.as_raw();
            queue.write_texture(
                v.texture.as_image_copy(),
                bytes,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * w),
                    rows_per_image: Some(h),
                },
                v.texture.size(),
            );
            v.generation = self.generation;
        }
        queue.write_buffer(&v.params, 0, bytemuck::cast_slice(&self.image_rect));
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(r) = resources.get::<SliceResources>() else {
            return;
        };
        let Some(v) = r.views.get(&self.view) else {
            return;
        };
        pass.set_bind_group(0, &v.bind_group, &[]);
        pass.set_pipeline(&r.background);
        pass.draw(0..24, 0..1);
        pass.set_pipeline(&r.image);
        pass.draw(24..30, 0..1);
    }
}
