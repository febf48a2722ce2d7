"""The forecaster network (torch): a scale-free temporal MLP with a Gaussian head.

The history is divided by its own RMS (plus 0.1 kW), so a 2 kW home and a 6 kW home look
alike to the network; log(scale) and the calendar are extra inputs. Two hidden layers
map that to a normalised mean and a normalised standard deviation (softplus + floor) for
the 96 steps, which are multiplied back by the scale. The deterministic baseline is the
same network trained on the squared error of the mean (its std output is unused).
"""

from __future__ import annotations

import torch
from torch import nn

from agent.adapters.onnx import CALENDAR_FEATURES, FORECAST_HISTORY

H = 96
SCALE_FLOOR_KW = 0.1
STD_FLOOR = 1e-3


class ForecastNet(nn.Module):
    def __init__(self, hidden: int = 256, horizon: int = H, dropout: float = 0.0) -> None:
        super().__init__()
        self.horizon = horizon
        self.body = nn.Sequential(
            nn.Linear(FORECAST_HISTORY + CALENDAR_FEATURES + 1, hidden), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 2 * horizon),
        )

    def normalised(self, history: torch.Tensor,
                   calendar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = torch.sqrt(torch.mean(history * history, dim=1, keepdim=True)) + SCALE_FLOOR_KW
        x = torch.cat([history / scale, calendar, torch.log(scale)], dim=1)
        out = self.body(x)
        mean_n = out[:, :self.horizon]
        std_n = nn.functional.softplus(out[:, self.horizon:]) + STD_FLOOR
        return mean_n, std_n, scale

    def forward(self, history: torch.Tensor,
                calendar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean_n, std_n, scale = self.normalised(history, calendar)
        return mean_n * scale, std_n * scale


def gaussian_nll(mean_n: torch.Tensor, std_n: torch.Tensor, y_n: torch.Tensor) -> torch.Tensor:
    return (torch.log(std_n) + 0.5 * ((y_n - mean_n) / std_n) ** 2).mean()


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
