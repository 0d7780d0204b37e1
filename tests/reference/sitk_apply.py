#!/usr/bin/env python3
"""Applies a Warpbench displacement field with SimpleITK and compares with Warpbench's warped image.

usage: sitk_apply.py FIXED MOVING DISPLACEMENT WARPED
Prints the Pearson correlation between SimpleITK's resampling of MOVING through DISPLACEMENT (as a
DisplacementFieldTransform, read the way ITK reads the file) and WARPED, over voxels where either
is non-zero.
"""
import sys

import numpy as np
import SimpleITK as sitk

fixed, moving, displacement, warped = sys.argv[1:5]
ref = sitk.ReadImage(fixed, sitk.sitkFloat32)
mov = sitk.ReadImage(moving, sitk.sitkFloat32)
field = sitk.ReadImage(displacement, sitk.sitkVectorFloat64)
transform = sitk.DisplacementFieldTransform(field)
theirs = sitk.GetArrayFromImage(sitk.Resample(mov, ref, transform, sitk.sitkLinear, 0.0))
ours = sitk.GetArrayFromImage(sitk.ReadImage(warped, sitk.sitkFloat32))
mask = (theirs != 0) | (ours != 0)
print(float(np.corrcoef(theirs[mask], ours[mask])[0, 1]))
