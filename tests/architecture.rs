//! The engine stays free of UI code: only `src/app/` and `src/main.rs` may name the UI crates.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_modules_do_not_use_ui_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let ui_words = ["egui", "eframe", "rfd", "crate::app"];
    let mut offenders = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("app/") || rel == "main.rs" || rel == "lib.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ui_words.iter().any(|w| code.contains(w)) {
                offenders.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "UI code outside src/app:\n{}",
        offenders.join("\n")
    );
}

/// The entries of package `name` in Cargo.lock, each as its text.
fn locked(name: &str) -> Vec<String> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let line = format!("name = \"{name}\"");
    lock.split("[[package]]")
        .filter(|p| p.lines().any(|l| l.trim() == line))
        .map(str::to_string)
        .collect()
}

#[test]
fn one_wgpu_in_the_lock_file() {
    // The UI, our kernels and burn must share one device, which needs one wgpu version.
    let wgpu = locked("wgpu");
    assert_eq!(wgpu.len(), 1, "wgpu entries in Cargo.lock: {wgpu:?}");
}

#[test]
fn egui_wgpu_is_the_patched_copy() {
    // vendor/egui-wgpu/WARPBENCH.md: without the patch, lavapipe took three times as long to
    // rasterise the window. A registry egui-wgpu in the lock file means an egui upgrade left
    // the patch unused.
    let entries = locked("egui-wgpu");
    assert_eq!(entries.len(), 1, "egui-wgpu entries: {entries:?}");
    assert!(
        !entries[0].contains("source = "),
        "egui-wgpu comes from a registry, not vendor/egui-wgpu: {}",
        entries[0]
    );
    let shader = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/egui-wgpu/src/egui.wgsl"),
    )
    .unwrap();
    assert!(shader.contains("override PREDICTABLE_TEXTURE_FILTERING"));
    assert!(!shader.contains("r_locals.predictable_texture_filtering"));
}
