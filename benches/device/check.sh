#!/usr/bin/env bash
# The checks only a GPU machine can do, from what benches/device/prepare.sh packed into .device/:
# the adapter, the GPU tests (each kernel against its CPU reference), the window's frame times
# off screen with the brain pair (idle and while registering), and one brain-pair registration
# from the command line. Reports go to $OUT (the device tool's folder), else /tmp/device-out.
#
# From the session: run(command="bash benches/device/check.sh", carry=[".device"], timeout_s=540)
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-/tmp/device-out}"
mkdir -p "$out" /tmp/wb

if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .device/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$nvidia_icd" ] && ! ls /usr/share/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nvidia_icd"
fi
for f in .device/bin/*.xz; do
  name=$(basename "$f" .xz)
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "/tmp/wb/$name"
  chmod +x "/tmp/wb/$name"
done
export WARPBENCH_DATA="$PWD/.device/data" XDG_RUNTIME_DIR=/tmp/xdg RUST_LOG=warn
mkdir -p "$XDG_RUNTIME_DIR"

step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name"
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  echo "exit $?" >>"$out/$name.txt"
  tail -n 25 "$out/$name.txt"
}
nvidia-smi -L
step adapter 60 /tmp/wb/warpbench gpu
# The shader-folder test reads the source tree by the path it was built in, absent here.
step gpu_tests 180 /tmp/wb/gpu --test-threads 1 --skip every_shader_file_is_embedded_and_validates
step frames 150 /tmp/wb/offscreen_frames --idle-s 15 --run-s 90 --csv "$out/frames.csv"
p=.device/data/brain-pair
step register 150 /tmp/wb/warpbench register --fixed $p/subjA_t1.nii.gz --moving $p/subjB_t1.nii.gz \
  --fixed-labels $p/subjA_aseg.nii.gz --moving-labels $p/subjB_aseg.nii.gz --preset brain-mri \
  --out /tmp/wb/register
cp /tmp/wb/register/metrics.json "$out/register_metrics.json" 2>/dev/null
true
