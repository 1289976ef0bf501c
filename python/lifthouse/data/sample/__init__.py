"""The embedded default data: a calibrated synthetic perpetual-futures market with known planted
effects (see docs/sample_data.md)."""

from lifthouse.data.sample.generator import SAMPLE_DATASETS, GroundTruth, generate, sample_datasets

__all__ = ["SAMPLE_DATASETS", "GroundTruth", "generate", "sample_datasets"]
