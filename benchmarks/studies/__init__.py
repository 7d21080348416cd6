"""One-off studies of the gate's training signal (estimators, gradients)."""
