#!/usr/bin/env bash
# One short training run per image classifier of pycnn.models on the bundled digits: the test
# accuracy and the time per epoch (issue 12's closing table).  Usage: bash bench/zoo_digits.sh [EPOCHS]
# The big ImageNet-layout nets (alexnet, vgg11*, resnet18/34) train on 512 images only.
set -u
epochs=${1:-3}
for m in lenet5 resnet20 resnet32 resnet44 resnet56 mobilenet_v1 mobilenet_v2 inception_small hmax \
         alexnet vgg11 vgg11_bn resnet18 resnet34; do
  case $m in alexnet|vgg11|vgg11_bn|resnet18|resnet34) extra="--train-limit 512 --epochs 1";;
             *) extra="--epochs $epochs";; esac
  start=$(date +%s.%N)
  out=$(python -m pycnn train --model "$m" $extra --threads 1 2>&1 | tail -2 | tr '\n' ' ')
  end=$(date +%s.%N)
  printf '%-16s %-40s %6.1f s total\n' "$m" "$extra" "$(echo "$end - $start" | bc)"
  echo "    $out"
done
