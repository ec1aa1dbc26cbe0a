"""What a sweeper may choose runs by is a validation figure, never a test score."""
from __future__ import annotations

from train_large.jobs import validation_metric


def test_a_training_run_hands_hydra_its_best_validation_metric():
    result = {"metric": "bleu", "best_valid_bleu": 20.0, "final_metric": 31.0,
              "final": {"valid": {"bleu": 19.5}, "test": {"bleu": 31.0}}}
    assert validation_metric(result) == 20.0


def test_a_compression_run_hands_hydra_its_validation_score():
    result = {"metric": "accuracy", "final_metric": 0.95,
              "final": {"valid": {"accuracy": 0.81}, "test": {"accuracy": 0.95}}}
    assert validation_metric(result) == 0.81
