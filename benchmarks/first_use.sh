#!/bin/bash
# First use of an official-layout VGG checkpoint (issue 25): `genrescope classify` of a
# synthesised 30 s MP3 with an empty cache folder, for each tree, trees alternated.
#
#   benchmarks/first_use.sh MODELS_DIR CLIP.mp3 RUNS TREE...
#
# MODELS_DIR holds vgg19_bn_cqt/save.pt (random weights in the official layout will do:
# torch.save(genrescope.models.vgg.VGG("vgg19_bn", 16).state_dict(), ...)); CLIP.mp3 from
# benchmarks/bench_cold_start.py's write_clip. PYTHON defaults to .venv/bin/python.
set -u
models=$1; clip=$2; runs=$3; shift 3
python=${PYTHON:-$(pwd)/.venv/bin/python}
for r in $(seq 1 "$runs"); do
  for tree in "$@"; do
    cache=$(mktemp -d)
    t0=$(date +%s.%N)
    out=$(cd /tmp && GENRESCOPE_CACHE=$cache PYTHONPATH=$tree timeout 900 "$python" -c \
      "import sys; from genrescope.cli import main; sys.exit(main())" \
      classify "$clip" --model vgg19_bn_cqt --models-dir "$models" 2>&1 | head -1)
    t1=$(date +%s.%N)
    echo "run $r $tree: $(echo "$t1 - $t0" | bc) s (load $(cut -d' ' -f1-3 /proc/loadavg)) $out"
    rm -rf "$cache"
  done
done
