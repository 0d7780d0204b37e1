#!/usr/bin/env python3
"""Multimodal benchmark: warpbench and greedy in one run, on the same machine, one table.

Cases:
  porcine   ct-mr-porcine: mr_t2_1mm (moving) to ct_1mm (fixed). warpbench `--preset ct-mr`;
            greedy rigid NMI (-dof 6, -ia-image-centers, 100x50x10). Only times are compared here:
            the accuracy check (two runs agreeing through a known rigid transform) is
            tests/ct_mr.rs.
  contrast  the demo case at 1 mm (`warpbench make-demo --spacing 1`): MNI152 T1 against a T2-like
            copy on an LPS grid, deformed by a known rotation, translation and Gaussian bumps.
            warpbench `--preset ct-mr`; greedy affine NMI (-dof 12) then deformable NMI,
            100x50x10 each. Both results scored by `warpbench eval` (TRE over 634 points, Dice of
            left/right grey and white matter).
Times: greedy's are the wall time of its registration commands (reading inputs and writing
outputs included); warpbench's are `seconds` in metrics.json (setup and stages, without loading or
writing) and the whole command.

usage: python3 benches/ct_mr.py [--data ../shared/data] [--out /tmp/ct-mr-bench]
                                [--warpbench target/release/warpbench] [--threads 2] [--skip-greedy]
"""

import argparse
import json
import os
import subprocess
import sys
import time


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def case_files(wb, data, out, case):
    if case == "porcine":
        d = os.path.join(data, "ct-mr-porcine")
        return {"fixed": f"{d}/ct_1mm.nii.gz", "moving": f"{d}/mr_t2_1mm.nii.gz"}
    demo = os.path.join(out, "contrast-case")
    if not os.path.exists(os.path.join(demo, "labels.txt")):
        run([wb, "make-demo", "--mni", os.path.join(data, "mni152-2009a"), "--spacing", "1",
             "--out", demo])
    return {"fixed": f"{demo}/fixed_t1.nii.gz", "moving": f"{demo}/moving_t2like.nii.gz",
            "fixed_labels": f"{demo}/fixed_labels.nii.gz",
            "moving_labels": f"{demo}/moving_labels.nii.gz",
            "fixed_landmarks": f"{demo}/fixed_landmarks.csv",
            "moving_landmarks": f"{demo}/moving_landmarks.csv"}


def scoring_args(files):
    args = []
    for key in ["fixed_labels", "moving_labels", "fixed_landmarks", "moving_landmarks"]:
        if key in files:
            args += ["--" + key.replace("_", "-"), files[key]]
    return args


def evaluate(wb, files, field, out):
    run([wb, "eval", "--fixed", files["fixed"], "--moving", files["moving"], "--displacement", field,
         "--no-surface", "--out", out] + scoring_args(files))
    with open(out) as f:
        return json.load(f)


def row(scores, seconds, command_seconds, affine_seconds):
    return {"seconds": seconds, "command_seconds": command_seconds, "affine_seconds": affine_seconds,
            "tre": scores.get("tre_mean_mm"), "dice": scores.get("dice_mean"),
            "fold": scores["fold_fraction"]}


def warpbench(wb, files, out, threads):
    folder = f"{out}/warpbench"
    start = time.perf_counter()
    run([wb, "register", "--fixed", files["fixed"], "--moving", files["moving"], "--preset", "ct-mr",
         "--threads", str(threads), "--no-surface", "--out", folder] + scoring_args(files))
    command_s = time.perf_counter() - start
    with open(f"{folder}/metrics.json") as f:
        own = json.load(f)
    return row(own, own["seconds"], command_s, own["stage_seconds"].get("affine", 0.0))


def greedy(wb, files, out, threads, deformable):
    from picsl_greedy import Greedy3D
    fixed, moving = files["fixed"], files["moving"]
    affine, warp = f"{out}/greedy_affine.mat", f"{out}/greedy_warp.nii.gz"
    composed = f"{out}/greedy_composed.nii.gz"
    g = Greedy3D()
    dof = 12 if deformable else 6
    with open(f"{out}/greedy.log", "w") as log:
        start = time.perf_counter()
        g.execute(f"-d 3 -threads {threads} -a -dof {dof} -i {fixed} {moving} -m NMI "
                  f"-ia-image-centers -n 100x50x10 -o {affine}", out=log, err=log)
        affine_s = time.perf_counter() - start
        if deformable:
            g.execute(f"-d 3 -threads {threads} -i {fixed} {moving} -it {affine} -m NMI "
                      f"-n 100x50x10 -o {warp}", out=log, err=log)
        seconds = time.perf_counter() - start
        chain = f"{warp} {affine}" if deformable else affine
        g.execute(f"-d 3 -threads {threads} -rf {fixed} -rc {composed} -r {chain}", out=log, err=log)
    return row(evaluate(wb, files, composed, f"{out}/greedy_metrics.json"), seconds, seconds,
               affine_s)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    p.add_argument("--out", default="/tmp/ct-mr-bench")
    p.add_argument("--warpbench", default=os.path.join(target, "release", "warpbench"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-greedy", action="store_true")
    a = p.parse_args()
    rows = {}
    for case in ["porcine", "contrast"]:
        out = os.path.join(a.out, case)
        os.makedirs(out, exist_ok=True)
        files = case_files(a.warpbench, a.data, a.out, case)
        rows[f"{case} warpbench ct-mr"] = warpbench(a.warpbench, files, out, a.threads)
        if not a.skip_greedy:
            name = "greedy NMI affine+deformable" if case == "contrast" else "greedy NMI rigid"
            rows[f"{case} {name}"] = greedy(a.warpbench, files, out, a.threads, case == "contrast")
    fmt = lambda v, spec: format("-", ">7") if v is None else format(v, spec)
    print(f"\n{'case / tool':<42} {'reg s':>7} {'affine s':>9} {'command s':>10} {'TRE mm':>7} "
          f"{'Dice':>7} {'det J<=0':>9}")
    for name, r in rows.items():
        print(f"{name:<42} {r['seconds']:7.1f} {r['affine_seconds']:9.1f} {r['command_seconds']:10.1f} "
              f"{fmt(r['tre'], '7.2f')} {fmt(r['dice'], '7.4f')} {r['fold']:9.2e}")
    with open(os.path.join(a.out, "table.json"), "w") as f:
        json.dump(rows, f, indent=2)
