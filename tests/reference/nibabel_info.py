#!/usr/bin/env python3
"""Writes nibabel's reading of every .nii.gz under a data folder to nibabel_info.json.

The test `tests/shared_data.rs` compares `warpbench info --json` against this file: dims, spacing
(voxel sizes from the affine's columns, as nibabel.affines.voxel_sizes gives), affine, orientation
(nibabel.aff2axcodes), value range (after scl_slope/scl_inter, from get_fdata) and the world bounding
box of the voxel centres. Run: python3 tests/reference/nibabel_info.py ../shared/data
"""
import glob
import itertools
import json
import os
import sys

import nibabel as nib
import numpy as np
from nibabel.affines import apply_affine, voxel_sizes

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
out = {"nibabel_version": nib.__version__, "files": {}}
for path in sorted(glob.glob(os.path.join(root, "*", "*.nii.gz"))):
    img = nib.load(path)
    data = img.get_fdata(dtype=np.float64)
    shape3 = img.shape[:3]
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in shape3])), dtype=float)
    world = apply_affine(img.affine, corners)
    out["files"][os.path.relpath(path, root)] = {
        "dims": list(img.shape),
        "spacing": [float(v) for v in voxel_sizes(img.affine)],
        "zooms": [float(v) for v in img.header.get_zooms()[:3]],
        "affine": img.affine.tolist(),
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        "dtype": str(img.get_data_dtype()),
        "min": float(data.min()),
        "max": float(data.max()),
        "world_min": world.min(axis=0).tolist(),
        "world_max": world.max(axis=0).tolist(),
    }
with open(os.path.join(os.path.dirname(__file__), "nibabel_info.json"), "w") as f:
    json.dump(out, f, indent=1)
print(f"{len(out['files'])} files")
