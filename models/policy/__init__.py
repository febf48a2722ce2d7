"""The adaptive battery and price policy: environment, training, export, evaluation."""
