#!/usr/bin/env bash
# Reproduces finetune/adapters/gemma-3-270m-roadmap from the repository root (needs the
# `local` extra and a built index: `assistant index build`). Four passive OpenMP threads:
# on 2 cores shared with other jobs, waiting threads sleep instead of spinning.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OMP_WAIT_POLICY=PASSIVE
# 3 retrieved passages within 700 tokens: the prompt the local backend is served with.
export ASSISTANT_TOP_K=3 ASSISTANT_CONTEXT_TOKENS=700
assistant finetune data --recipe topics --out var/finetune/pairs.jsonl
assistant finetune train --base gemma-3-270m --data var/finetune/pairs.jsonl \
  --out var/finetune/gemma-3-270m-roadmap --overwrite \
  --lora-r 8 --lora-alpha 16 --lr 1e-3 --batch-size 1 --grad-accum 2 \
  --max-steps "${MAX_STEPS:-40}" --max-minutes "${MAX_MINUTES:-16}" \
  --eval-fraction 0.01 --eval-every 0 --save-every 5 --no-gradient-checkpointing --seed 1337
# Ship the adapter, its report and loss curve (checkpoints stay in var/).
mkdir -p finetune/adapters/gemma-3-270m-roadmap
cp var/finetune/gemma-3-270m-roadmap/{adapter_config.json,adapter_model.safetensors,report.json,loss_curve.png} \
  finetune/adapters/gemma-3-270m-roadmap/ 2>/dev/null || true
cp var/finetune/pairs.manifest.json finetune/adapters/gemma-3-270m-roadmap/data_manifest.json
