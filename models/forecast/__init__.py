"""The forecaster's training pipeline: data, windows, network, training, export, evaluation."""
