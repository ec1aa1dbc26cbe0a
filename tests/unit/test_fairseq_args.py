"""Our config maps onto fairseq-train's flags exactly."""
from __future__ import annotations

from tests.conftest import compose_train
from train_large.engine import fairseq_args
from train_large.runtime import resolve_runtime, with_runtime


def train_argv(cfg, data_bin, device, **kwargs):
    return fairseq_args.train_argv(with_runtime(cfg, resolve_runtime(cfg, device)), data_bin, device, **kwargs)


def flag(argv, name):
    return argv[argv.index(name) + 1]


def test_wmt_big_preset_maps_to_fairseq_big_shape():
    cfg = compose_train(["task=wmt14_en_fr", "optim=adam", "model.width=1024", "model.depth=6",
                         "paths.data_root=/d"])
    argv = train_argv(cfg, "/d/bin", "cuda")
    assert flag(argv, "--encoder-embed-dim") == "1024"
    assert flag(argv, "--encoder-ffn-embed-dim") == "4096"
    assert flag(argv, "--encoder-attention-heads") == "16"
    assert flag(argv, "--decoder-layers") == "6"
    assert flag(argv, "--warmup-updates") == "4000"
    assert "--cpu" not in argv and "--share-all-embeddings" in argv


def test_pre_norm_cpu_and_update_freq_flags():
    cfg = compose_train(["model.norm=pre", "optim.update_freq=4", "model.decoder_depth=3"])
    argv = train_argv(cfg, "/d/bin", "cpu")
    assert "--encoder-normalize-before" in argv and "--decoder-normalize-before" in argv
    assert "--cpu" in argv
    assert flag(argv, "--update-freq") == "4"
    assert flag(argv, "--decoder-layers") == "3"
    assert flag(argv, "--encoder-layers") == "6"


def test_max_updates_caps_fairseq_too():
    argv = train_argv(compose_train(["budget.max_updates=50"]), "/d/bin", "cpu")
    assert flag(argv, "--max-update") == "50"


def test_masked_lm_maps_to_roberta_encoder_and_derived_accumulation():
    cfg = compose_train(["task=roberta_mlm", "model.width=1024", "model.depth=24", "optim.batch_size=8192",
                         "paths.data_root=/d"])
    argv = train_argv(cfg, "/d/bin", "cuda")
    assert flag(argv, "--task") == "masked_lm" and flag(argv, "--arch") == "roberta"
    assert flag(argv, "--encoder-layers") == "24" and flag(argv, "--encoder-attention-heads") == "16"
    assert flag(argv, "--tokens-per-sample") == "128" and flag(argv, "--criterion") == "masked_lm"
    assert "--encoder-normalize-before" in argv and "--decoder-layers" not in argv
    # 8192 sequences per update at 64 per forward: 128 accumulation steps
    assert flag(argv, "--batch-size") == "64" and flag(argv, "--update-freq") == "128"
    assert "--max-tokens" not in argv and "--label-smoothing" not in argv


def test_classification_passes_label_count_and_roberta_specials():
    cfg = compose_train(["task=mnli", "paths.data_root=/d"])
    argv = train_argv(cfg, "/d/mnli/bin", "cpu", num_classes=3)
    assert flag(argv, "--task") == "sentence_prediction" and flag(argv, "--num-classes") == "3"
    assert flag(argv, "--init-token") == "0" and flag(argv, "--separator-token") == "2"
    assert flag(argv, "--max-positions") == "512" and flag(argv, "--batch-size") == "32"
