//! `warpbench sweep` end to end: on the demo case and on the real brain pair, a row per weight in
//! the order they ran, scores that show the trade-off (more diffusion, a smoother field), the
//! configuration that ran, and a clear refusal of a bad weight.

mod common;

use common::demo_file;
use std::path::Path;
use std::process::{Command, Output};
use warpbench::register::config::RegistrationConfig;

fn sweep(files: &[(&str, String)], weights: &str, out: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warpbench"));
    command.arg("sweep");
    for (flag, path) in files {
        command.args([flag, path.as_str()]);
    }
    command
        .args(["--preset", "fast", "--diffusion", weights, "--out"])
        .arg(out)
        .output()
        .unwrap()
}

/// The rows of `sweep.csv`, as maps from column name to text.
fn rows(out: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn number(row: &std::collections::BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?}", row[key]))
}

#[test]
fn a_sweep_of_the_demo_writes_a_row_per_weight_in_the_order_they_ran() {
    let out = tempfile::tempdir().unwrap();
    let files = [
        ("--fixed", demo_file("fixed_t1.nii.gz")),
        ("--moving", demo_file("moving_t2like.nii.gz")),
        ("--fixed-labels", demo_file("fixed_labels.nii.gz")),
        ("--moving-labels", demo_file("moving_labels.nii.gz")),
        ("--fixed-landmarks", demo_file("fixed_landmarks.csv")),
        ("--moving-landmarks", demo_file("moving_landmarks.csv")),
    ];
    let output = sweep(&files, "4,0", out.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("λ 4: Dice") && stdout.contains("λ 0: Dice"),
        "{stdout}"
    );
    let rows = rows(out.path());
    let weights: Vec<f64> = rows.iter().map(|r| number(r, "diffusion")).collect();
    assert_eq!(weights, [4.0, 0.0]);
    for r in &rows {
        for key in [
            "dice_mean",
            "tre_mean_mm",
            "ndv_percent",
            "similarity",
            "seconds",
        ] {
            assert!(number(r, key).is_finite(), "{key}");
        }
    }
    assert!(number(&rows[0], "sdlogj") < number(&rows[1], "sdlogj"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert!(json[1]["scores"]["dice"].as_object().unwrap().len() == 4);
    let config = RegistrationConfig::read(&out.path().join("config.toml")).unwrap();
    let fixed =
        warpbench::volume::nifti_io::read_scalar(demo_file("fixed_t1.nii.gz").as_ref()).unwrap();
    let fast = RegistrationConfig::preset("fast").unwrap();
    assert_eq!(config, fast.fitted_to(fixed.grid()));

    let refused = sweep(&files, "0.1,-1", out.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("-1") && stderr.contains("diffusion"),
        "{stderr}"
    );
}

/// The brain pair (two subjects, 45 labelled structures): ten times the diffusion weight twice
/// over smooths the field (SDlogJ falls, the smallest det J rises) and costs Dice.
#[test]
fn a_sweep_of_the_brain_pair_shows_the_smoothness_trade_off() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let file = |name: &str| {
        common::shared_file(&data, &format!("brain-pair/{name}"))
            .to_string_lossy()
            .into_owned()
    };
    let files = [
        ("--fixed", file("subjA_t1.nii.gz")),
        ("--moving", file("subjB_t1.nii.gz")),
        ("--fixed-labels", file("subjA_aseg.nii.gz")),
        ("--moving-labels", file("subjB_aseg.nii.gz")),
    ];
    let out = tempfile::tempdir().unwrap();
    let output = sweep(&files, "0.05,0.5,5", out.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = rows(out.path());
    let column = |key| rows.iter().map(|r| number(r, key)).collect::<Vec<f64>>();
    let (sdlogj, jmin, dice) = (
        column("sdlogj"),
        column("jacobian_min"),
        column("dice_mean"),
    );
    eprintln!("SDlogJ {sdlogj:?}, min det J {jmin:?}, Dice {dice:?}");
    assert!(sdlogj[0] > sdlogj[1] && sdlogj[1] > sdlogj[2], "{sdlogj:?}");
    assert!(sdlogj[2] < 0.5 * sdlogj[0], "{sdlogj:?}");
    assert!(jmin[0] < jmin[2], "{jmin:?}");
    assert!(dice.iter().all(|&d| d > 0.55), "{dice:?}");
    assert!(dice[2] < dice[0].max(dice[1]), "{dice:?}");
}
