#!/usr/bin/env bash
# Packs what benches/device/check.sh needs on a lent GPU machine, which has no Rust, no network
# and no ../shared: stripped, xz-compressed release builds of the window's offscreen frame bench,
# the GPU tests and warpbench itself, the brain pair, and the Vulkan loader's packages. All of it
# goes into .device/ (ignored by git), which the device tool's `run` carries (64 MiB at most).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/warpbench-target}"
data="${WARPBENCH_DATA:-$(cd .. && pwd)/shared/data}"

rm -rf .device && mkdir -p .device/bin .device/data/brain-pair .device/gl
# The paths of the executables cargo built, by target name.
cargo build --release --bin warpbench --bench offscreen_frames --test gpu --message-format=json |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])
' | while read -r name exe; do
  strip -o ".device/bin/$name" "$exe"
  xz -T0 -6 ".device/bin/$name"
done
cp "$data"/brain-pair/subj{A,B}_{t1,aseg}.nii.gz .device/data/brain-pair/
# The GPU machine's image has the NVIDIA driver but may lack the Vulkan loader.
lists=/tmp/warpbench-amd64-lists
mkdir -p "$lists/partial"
apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
apt-get "${apt[@]}" update -qq
# apt's download user must be able to write where it downloads.
get=$(mktemp -d) && chmod a+rwx "$get"
(cd "$get" && apt-get "${apt[@]}" download libvulkan1 >/dev/null)
mv "$get"/*.deb .device/gl/ && rmdir "$get"
du -sh .device
