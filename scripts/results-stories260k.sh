# Sourced by the stories260K results scripts (results-weight-only.sh, results-hero.sh,
# results-hero-matrix.sh): the shared protocol, so every table uses the same model, calibration and
# evaluation text. Expects $hessq and $shared; defines model, text, piqa, hq, calib, evalppl, and (from
# results-common.sh) field and require. Calibration: the first 100000 bytes of TinyStories (16384
# tokens, 2048 held out); evaluation: the next 100000 bytes at ctx 512.
model=$shared/models/stories260K/stories260K.bin
text=$shared/data/tinystories/tinystories_validation_head.txt
piqa=$shared/data/piqa/valid.jsonl
hq=("$hessq" --threads 1 --quiet)
calib=(--calib "$text" --calib-max-chars 100000 --calib-tokens 16384 --heldout-tokens 2048)
evalppl=(--ppl "$text" --skip-chars 100000 --max-chars 100000 --ctx 512 --json)

. "$(dirname "${BASH_SOURCE[0]}")/results-common.sh"
