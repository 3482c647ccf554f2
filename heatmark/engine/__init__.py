"""Engine: training, evaluation and benchmarks. Imports models, codecs, losses and data; nothing below imports it."""
