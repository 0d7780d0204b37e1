#!/usr/bin/env python3
"""Brain-pair benchmark: warpbench and greedy in one run, on the same machine, one table.

Registers ../shared/data/brain-pair/subjB_t1 (moving) to subjA_t1 (fixed) with
  greedy (picsl-greedy from PyPI, 2 threads): affine NCC 2x2x2 then deformable NCC 2x2x2, 100x50x10;
  warpbench register --preset brain-mri --threads 2 (release build).
Both results are scored by the same code: greedy's affine and warp are composed into one ITK
displacement (greedy -rc) and passed to `warpbench eval`, as is ours. Times are the wall time of
the registration itself (greedy: its two commands, which include reading its inputs and writing
its outputs; warpbench: `seconds` in metrics.json, setup and stages without loading or writing)
and the whole command.

usage: python3 benches/brain_pair.py [--data ../shared/data] [--out /tmp/brain-pair-bench]
                                     [--warpbench target/release/warpbench] [--skip-greedy]
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


def evaluate(wb, data, field, out):
    pair = os.path.join(data, "brain-pair")
    run([wb, "eval", "--fixed", f"{pair}/subjA_t1.nii.gz", "--moving", f"{pair}/subjB_t1.nii.gz",
         "--displacement", field, "--fixed-labels", f"{pair}/subjA_aseg.nii.gz",
         "--moving-labels", f"{pair}/subjB_aseg.nii.gz", "--no-surface", "--out", out])
    with open(out) as f:
        return json.load(f)


def greedy(wb, data, out, threads):
    from picsl_greedy import Greedy3D
    pair = os.path.join(data, "brain-pair")
    fixed, moving = f"{pair}/subjA_t1.nii.gz", f"{pair}/subjB_t1.nii.gz"
    affine, warp = f"{out}/greedy_affine.mat", f"{out}/greedy_warp.nii.gz"
    composed = f"{out}/greedy_composed.nii.gz"
    g = Greedy3D()
    with open(f"{out}/greedy.log", "w") as log:
        start = time.perf_counter()
        g.execute(f"-d 3 -threads {threads} -a -dof 12 -i {fixed} {moving} -m NCC 2x2x2 "
                  f"-ia-image-centers -n 100x50x10 -o {affine}", out=log, err=log)
        affine_s = time.perf_counter() - start
        g.execute(f"-d 3 -threads {threads} -i {fixed} {moving} -it {affine} -m NCC 2x2x2 "
                  f"-n 100x50x10 -o {warp}", out=log, err=log)
        total_s = time.perf_counter() - start
        g.execute(f"-d 3 -threads {threads} -rf {fixed} -rc {composed} -r {warp} {affine}",
                  out=log, err=log)
        g.execute(f"-d 3 -threads {threads} -rf {fixed} -rc {out}/greedy_affine_field.nii.gz "
                  f"-r {affine}", out=log, err=log)
    scores = evaluate(wb, data, composed, f"{out}/greedy_metrics.json")
    affine_scores = evaluate(wb, data, f"{out}/greedy_affine_field.nii.gz",
                             f"{out}/greedy_affine_metrics.json")
    return {"seconds": total_s, "affine_seconds": affine_s, "command_seconds": total_s,
            "dice": scores["dice_mean"], "dice_affine": affine_scores["dice_mean"],
            "fold": scores["fold_fraction"], "ndv": scores["ndv_fraction"],
            "sdlogj": scores["sdlogj"]}


def warpbench(wb, data, out, threads, preset):
    pair = os.path.join(data, "brain-pair")
    folder = f"{out}/warpbench"
    start = time.perf_counter()
    run([wb, "register", "--fixed", f"{pair}/subjA_t1.nii.gz", "--moving", f"{pair}/subjB_t1.nii.gz",
         "--fixed-labels", f"{pair}/subjA_aseg.nii.gz", "--moving-labels", f"{pair}/subjB_aseg.nii.gz",
         "--preset", preset, "--threads", str(threads), "--no-surface", "--out", folder])
    command_s = time.perf_counter() - start
    scores = evaluate(wb, data, f"{folder}/displacement.nii.gz", f"{out}/warpbench_metrics.json")
    with open(f"{folder}/metrics.json") as f:
        own = json.load(f)
    return {"seconds": own["seconds"], "affine_seconds": own["stage_seconds"].get("affine", 0.0),
            "command_seconds": command_s, "dice": scores["dice_mean"],
            "dice_affine": own["dice_affine"], "fold": scores["fold_fraction"],
            "ndv": scores["ndv_fraction"], "sdlogj": scores["sdlogj"]}


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    p.add_argument("--out", default="/tmp/brain-pair-bench")
    p.add_argument("--warpbench", default=os.path.join(target, "release", "warpbench"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--preset", default="brain-mri")
    p.add_argument("--skip-greedy", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = {"warpbench": warpbench(a.warpbench, a.data, a.out, a.threads, a.preset)}
    if not a.skip_greedy:
        rows["greedy"] = greedy(a.warpbench, a.data, a.out, a.threads)
    print(f"\n{'tool':<10} {'reg s':>7} {'affine s':>9} {'command s':>10} {'Dice aff':>9} "
          f"{'Dice':>7} {'det J<=0':>9} {'NDV':>9} {'SDlogJ':>7}")
    for name, r in rows.items():
        print(f"{name:<10} {r['seconds']:7.1f} {r['affine_seconds']:9.1f} {r['command_seconds']:10.1f} "
              f"{r['dice_affine']:9.4f} {r['dice']:7.4f} {r['fold']:9.2e} {r['ndv']:9.2e} {r['sdlogj']:7.4f}")
    if "greedy" in rows:
        print(f"\ntime ratio warpbench / greedy: {rows['warpbench']['seconds'] / rows['greedy']['seconds']:.2f}")
    with open(f"{a.out}/table.json", "w") as f:
        json.dump(rows, f, indent=2)
