//! The `warpbench` command lines that repeat what the window runs (a registration, a smoothness
//! sweep, a trained network on the case), quoted for a POSIX shell: batch work starts from
//! settings tried in the window.

use std::path::{Path, PathBuf};

/// The files a command reads: the pair, and label maps and landmarks when it has them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseArgs {
    pub fixed: PathBuf,
    pub moving: PathBuf,
    /// Fixed labels, and moving labels when there are both.
    pub labels: Option<(PathBuf, Option<PathBuf>)>,
    /// Fixed and moving landmarks, paired.
    pub landmarks: Option<(PathBuf, PathBuf)>,
    /// The labels' names, passed with the label maps.
    pub label_names: Option<PathBuf>,
}

/// Where a registration's settings come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Settings<'a> {
    /// A preset, with its affine stage started from the landmarks when `landmark_start`.
    Preset { name: &'a str, landmark_start: bool },
    /// A TOML configuration file.
    Config(&'a Path),
}

/// What the command runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Job<'a> {
    Register(Settings<'a>),
    /// The deformable stage once per diffusion weight, in this order.
    Sweep(Settings<'a>, &'a [f64]),
    /// A trained network's model folder and its refinement steps (the model's own when `None`).
    Infer {
        model: &'a Path,
        refine: Option<u32>,
    },
}

/// The arguments after the program name: `job` on `case`, its outputs into `out`.
pub fn arguments(job: Job, case: &CaseArgs, out: &Path) -> Vec<String> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut args: Vec<String> = match job {
        Job::Register(_) => vec!["register".into()],
        Job::Sweep(..) => vec!["sweep".into()],
        Job::Infer { model, .. } => vec!["infer".into(), "--model".into(), path(model)],
    };
    let mut flag = |name: &str, value: String| args.extend([format!("--{name}"), value]);
    flag("fixed", path(&case.fixed));
    flag("moving", path(&case.moving));
    if let Some((fixed, moving)) = &case.labels {
        flag("fixed-labels", path(fixed));
        if let Some(moving) = moving {
            flag("moving-labels", path(moving));
        }
        if let Some(names) = &case.label_names {
            flag("label-names", path(names));
        }
    }
    if let Some((fixed, moving)) = &case.landmarks {
        flag("fixed-landmarks", path(fixed));
        flag("moving-landmarks", path(moving));
    }
    let settings = match job {
        Job::Register(s) | Job::Sweep(s, _) => Some(s),
        Job::Infer { .. } => None,
    };
    match settings {
        Some(Settings::Preset { name, .. }) => flag("preset", name.into()),
        Some(Settings::Config(file)) => flag("config", path(file)),
        None => {}
    }
    match job {
        Job::Sweep(_, weights) => {
            let weights: Vec<String> = weights.iter().map(f64::to_string).collect();
            flag("diffusion", weights.join(","));
        }
        Job::Infer {
            refine: Some(steps),
            ..
        } => flag("refine", steps.to_string()),
        Job::Infer { refine: None, .. } => {}
        Job::Register(_) => {}
    }
    flag("out", path(out));
    if let Some(Settings::Preset {
        landmark_start: true,
        ..
    }) = settings
    {
        args.push("--landmark-start".into());
    }
    args
}

/// `warpbench` and `args` as one line for a POSIX shell: each argument that holds anything but
/// characters a shell leaves alone is put in single quotes (a quote inside as `'\''`).
pub fn shell_line(args: &[String]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./,:=+@%".contains(c);
    let quoted = args.iter().map(|a| {
        if !a.is_empty() && a.chars().all(plain) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    });
    std::iter::once("warpbench".to_string())
        .chain(quoted)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::register::config::RegistrationConfig;
    use clap::Parser;

    fn case() -> CaseArgs {
        CaseArgs {
            fixed: "/data/a b/fixed.nii.gz".into(),
            moving: "moving.nii".into(),
            labels: Some(("fl.nii.gz".into(), Some("ml.nii.gz".into()))),
            landmarks: Some(("f.csv".into(), "it's.csv".into())),
            label_names: Some("FreeSurferColorLUT.txt".into()),
        }
    }

    fn parse(args: &[String]) -> Command {
        let line = std::iter::once("warpbench".to_string()).chain(args.iter().cloned());
        Cli::try_parse_from(line)
            .expect("the command parses")
            .command
            .expect("a command")
    }

    #[test]
    fn a_register_command_parses_back_to_the_case_and_settings() {
        let out = Path::new("out dir");
        let Command::Register(args) = parse(&arguments(
            Job::Register(Settings::Preset {
                name: "ct-mr",
                landmark_start: false,
            }),
            &case(),
            out,
        )) else {
            panic!("not register")
        };
        assert_eq!(args.fixed, case().fixed);
        assert_eq!(args.moving, case().moving);
        assert_eq!(
            args.scoring.fixed_labels.as_deref(),
            Some(Path::new("fl.nii.gz"))
        );
        assert_eq!(
            args.scoring.moving_labels.as_deref(),
            Some(Path::new("ml.nii.gz"))
        );
        assert_eq!(
            args.scoring.fixed_landmarks.as_deref(),
            Some(Path::new("f.csv"))
        );
        assert_eq!(
            args.scoring.moving_landmarks.as_deref(),
            Some(Path::new("it's.csv"))
        );
        assert_eq!(
            args.scoring.label_names.as_deref(),
            Some(Path::new("FreeSurferColorLUT.txt"))
        );
        assert_eq!(args.run.preset.as_deref(), Some("ct-mr"));
        assert_eq!(args.run.config, None);
        assert!(!args.run.landmark_start);
        assert_eq!(args.out, out);
        let Command::Register(args) = parse(&arguments(
            Job::Register(Settings::Preset {
                name: "ct-mr",
                landmark_start: true,
            }),
            &case(),
            out,
        )) else {
            panic!("not register")
        };
        assert!(args.run.landmark_start);
        let grid = crate::volume::Grid::axis_aligned([2, 2, 2], [1.0; 3], [0.0; 3]).unwrap();
        let image = crate::volume::ScalarVolume::filled(grid, 0.0);
        let image = (&image, Path::new("fixed.nii.gz"));
        assert_eq!(
            args.run.apply(image, image).unwrap(),
            RegistrationConfig::preset("ct-mr")
                .unwrap()
                .with_landmark_start()
        );

        let bare = CaseArgs {
            labels: Some(("fl.nii.gz".into(), None)),
            landmarks: None,
            label_names: None,
            ..case()
        };
        let config = Path::new("/state/commands/1/config.toml");
        let Command::Register(args) = parse(&arguments(
            Job::Register(Settings::Config(config)),
            &bare,
            out,
        )) else {
            panic!("not register")
        };
        assert_eq!(args.run.config.as_deref(), Some(config));
        assert_eq!(args.run.preset, None);
        assert_eq!(args.scoring.moving_labels, None);
        assert_eq!(args.scoring.fixed_landmarks, None);
        assert_eq!(args.scoring.label_names, None);
    }

    #[test]
    fn sweep_and_infer_commands_parse_back() {
        let weights = [0.01, 0.1, 2.5];
        let Command::Sweep(args) = parse(&arguments(
            Job::Sweep(
                Settings::Preset {
                    name: "brain-mri",
                    landmark_start: false,
                },
                &weights,
            ),
            &case(),
            Path::new("s"),
        )) else {
            panic!("not sweep")
        };
        assert_eq!(args.diffusion, weights);
        assert_eq!(args.run.preset.as_deref(), Some("brain-mri"));

        let model = Path::new("runs/brain");
        let Command::Infer(args) = parse(&arguments(
            Job::Infer {
                model,
                refine: Some(7),
            },
            &case(),
            Path::new("i"),
        )) else {
            panic!("not infer")
        };
        assert_eq!(args.model, model);
        assert_eq!(args.refine, Some(7));
        assert_eq!(
            args.scoring.fixed_landmarks.as_deref(),
            Some(Path::new("f.csv"))
        );
    }

    /// The shell gives back each argument as it was, spaces and quotes included.
    #[cfg(unix)]
    #[test]
    fn a_shell_reads_the_line_back_into_the_arguments() {
        let args = arguments(
            Job::Register(Settings::Preset {
                name: "brain-mri",
                landmark_start: true,
            }),
            &case(),
            Path::new("$HOME/out; rm -rf *"),
        );
        let line = shell_line(&args);
        assert!(line.starts_with(
            "warpbench register --fixed '/data/a b/fixed.nii.gz' --moving moving.nii "
        ));
        let echoed = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\0' {}", line))
            .output()
            .expect("sh runs");
        let words: Vec<String> = String::from_utf8(echoed.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_string)
            .collect();
        assert_eq!(words[0], "warpbench");
        assert_eq!(words[1..], args[..]);
    }
}
