"""The FLOPs estimate follows its documented formula."""
from __future__ import annotations

from train_large.flops import FlopModel


def test_encoder_only_is_six_n_t_plus_attention():
    model = FlopModel(width=4, encoder_params=100, encoder_layers=2, head_params=10)
    # 6*100*(3+5) + 12*2*4*(9+25) + 6*10*2
    assert model.update_flops([3, 5], head_positions=2) == 4800 + 3264 + 120


def test_decoder_adds_its_weights_self_and_cross_attention():
    model = FlopModel(width=2, encoder_params=10, encoder_layers=1, decoder_params=20, decoder_layers=3)
    encoder = 6 * 10 * 4 + 12 * 1 * 2 * 16
    decoder = 6 * 20 * 3 + 12 * 3 * 2 * (9 + 4 * 3)
    assert model.update_flops([4], [3]) == encoder + decoder


def test_doubling_tokens_doubles_the_weight_term():
    model = FlopModel(width=1, encoder_params=1000, encoder_layers=0)
    assert model.update_flops([10, 10]) == 2 * model.update_flops([10])
