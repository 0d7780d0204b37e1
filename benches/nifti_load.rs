//! Benchmark: load `lung-ct/ct_phase00.nii.gz` (37 M voxels, int16, gzip) into f32, ours against
//! nibabel (`get_fdata(dtype=float32)`) in the same run. `cargo bench --bench nifti_load`; the data
//! folder is `WARPBENCH_DATA` or `../shared/data`.

mod common;

use common::{data_dir, median};
use std::time::Instant;

const RUNS: usize = 5;

fn main() {
    let data = data_dir();
    let path = data.join("lung-ct/ct_phase00.nii.gz");
    if !path.is_file() {
        eprintln!(
            "nifti_load: {} not found; set WARPBENCH_DATA",
            path.display()
        );
        std::process::exit(1);
    }
    let mut ours = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let vol = warpbench::volume::nifti_io::read_scalar(&path).expect("lung CT loads");
        ours.push(t.elapsed().as_secs_f64());
        std::hint::black_box(vol.data()[vol.data().len() / 2]);
    }
    let script = format!(
        "import time, nibabel as nib, numpy as np\nts=[]\nfor _ in range({RUNS}):\n    t=time.perf_counter(); \
         a=nib.load({:?}).get_fdata(dtype=np.float32); ts.append(time.perf_counter()-t)\n\
         ts.sort(); print(ts[len(ts)//2], nib.__version__)",
        path.to_string_lossy()
    );
    let nibabel = std::process::Command::new("python3")
        .args(["-c", &script])
        .output();
    let ours = median(ours);
    println!("load {} ({} runs, median)", path.display(), RUNS);
    println!("| reader | seconds |");
    println!("|---|---|");
    println!("| warpbench | {ours:.3} |");
    match nibabel {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut parts = text.split_whitespace();
            let secs: f64 = parts
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            println!("| nibabel {} | {secs:.3} |", parts.next().unwrap_or("?"));
            println!("ratio warpbench / nibabel = {:.2}", ours / secs);
        }
        _ => println!("nibabel not available (pip install nibabel numpy) — no comparison"),
    }
}
