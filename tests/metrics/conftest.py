"""Metric tests run on one CPU thread (the machine is shared)."""

import torch

torch.set_num_threads(1)
