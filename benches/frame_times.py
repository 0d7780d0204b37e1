#!/usr/bin/env python3
"""Frame-time benchmark of the window: the brain pair loaded, redrawn continuously, first idle
and then while a registration runs; prints the percentiles of the frame intervals. A third run
leaves the window alone while it registers (it then draws only when the run has news) and
prints how often the views changed: the intervals between new snapshots on show.

Needs a display (run under `xvfb-run -s "-screen 0 1400x900x24"` without one) and a release
build. The window is 1400 x 900, the default size.

usage: python3 benches/frame_times.py [--data ../shared/data] [--warpbench PATH]
                                      [--idle-s 15] [--run-s 90] [--preset brain-mri]
                                      [--tab registration] [--session FILE]

`--tab images` measures with the Images tab open, whose joint histogram is recomputed on a helper
thread for each new snapshot. `--session FILE` opens a session saved in the window instead of the
brain pair's files (its case, view and parameters: a joint-histogram pick, say). The UI thread's
CPU time per frame is given at p95, p99 and its maximum: work done once per snapshot (a few
frames in a hundred) shows in the last two.
"""

import argparse
import csv
import os
import subprocess
import tempfile


def at(v, q):
    return v[min(len(v) - 1, int(q * len(v)))]


def read(path, registering):
    with open(path) as f:
        return [r for r in csv.DictReader(f) if r["registering"] == registering]


def percentiles(path, registering):
    rows = [r for r in read(path, registering) if r["idle_gap"] == "0"]
    rows = rows[10:]  # the first frames build caches and upload textures
    frames = sorted(float(r["frame_ms"]) for r in rows)
    cpu = sorted(float(r["ui_cpu_ms"]) for r in rows)
    if not frames:
        return None
    return len(frames), at(frames, 0.5), at(frames, 0.95), frames[-1], at(cpu, 0.95), at(cpu, 0.99), cpu[-1]


def view_updates(path):
    """Seconds between the frames that showed a new snapshot while the run went on."""
    rows = read(path, "1")
    changes = [float(b["t_s"]) for a, b in zip(rows, rows[1:]) if a["generation"] != b["generation"]]
    gaps = sorted(b - a for a, b in zip(changes, changes[1:]))
    if not gaps:
        return None
    return len(changes), at(gaps, 0.5), at(gaps, 0.95), gaps[-1]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--warpbench", default=os.path.join(target, "release", "warpbench"))
    ap.add_argument("--idle-s", type=float, default=15)
    ap.add_argument("--run-s", type=float, default=90)
    ap.add_argument("--preset", default="brain-mri")
    ap.add_argument("--tab", default="registration")
    ap.add_argument("--session")
    a = ap.parse_args()
    pair = os.path.join(a.data, "brain-pair")
    files = ["--session", a.session] if a.session else [
        "--fixed", os.path.join(pair, "subjA_t1.nii.gz"),
        "--moving", os.path.join(pair, "subjB_t1.nii.gz"),
        "--fixed-labels", os.path.join(pair, "subjA_aseg.nii.gz"),
        "--moving-labels", os.path.join(pair, "subjB_aseg.nii.gz"),
    ]
    files += ["--tab", a.tab]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("idle", "0", a.idle_s, []), ("registering", "1", a.run_s, ["--run", "--preset", a.preset])]
        print("| state | frames | p50 ms | p95 ms | max ms | UI CPU p95 / p99 / max ms |")
        print("|---|---|---|---|---|---|")
        for name, flag, seconds, extra in runs:
            log = os.path.join(tmp, f"{name}.csv")
            cmd = [a.warpbench, "open", *files, "--continuous", "--frame-log", log,
                   "--quit-after", str(seconds), *extra]
            run(cmd, os.path.join(tmp, f"{name}.log"), name)
            p = percentiles(log, flag)
            if p:
                print(f"| {name} | {p[0]} | {p[1]:.1f} | {p[2]:.1f} | {p[3]:.1f} "
                      f"| {p[4]:.1f} / {p[5]:.1f} / {p[6]:.1f} |")
        log = os.path.join(tmp, "untouched.csv")
        cmd = [a.warpbench, "open", *files, "--frame-log", log, "--quit-after", str(a.run_s),
               "--run", "--preset", a.preset]
        run(cmd, os.path.join(tmp, "untouched.log"), "untouched")
        u = view_updates(log)
        print()
        print("| registering, window left alone | new snapshots shown | p50 s between | p95 s | max s |")
        print("|---|---|---|---|---|")
        if u:
            print(f"| | {u[0]} | {u[1]:.2f} | {u[2]:.2f} | {u[3]:.2f} |")


def run(cmd, log_path, name):
    with open(log_path, "w+") as err:
        code = subprocess.run(cmd, stderr=err).returncode
        if code != 0:
            err.seek(0)
            tail = err.read()[-4000:]
            raise SystemExit(f"{name}: warpbench exited with {code}; its last output:\n{tail}")


if __name__ == "__main__":
    main()
