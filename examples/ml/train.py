"""Train a small PyTorch classifier on Backtide features and export it to ONNX.

Not run in CI (PyTorch is large); documented in examples/ml/README.md:

    backtide features --data sample:GOOG --spec examples/ml/features.json \
        --out features.parquet --label 5
    pip install torch pandas pyarrow onnx
    python3 examples/ml/train.py features.parquet model.onnx
    backtide run --data sample:GOOG --strategy onnx_model \
        --param model=model.onnx --param features=examples/ml/features.json

The label column `label_fwd_return_5` (the next 5 bars' return) is the training target
only; the model's inputs are the feature columns, in the spec's order. The first 70 % of
rows (in time) train the model, the rest is held out - never shuffle time series across
that boundary. The scaler (train-set mean and spread) is part of the exported graph, so
Backtide feeds raw features exactly as `backtide features` computes them.
"""

import sys

import pandas as pd
import torch
from torch import nn

src, dst = sys.argv[1], sys.argv[2]
df = pd.read_parquet(src).dropna()
label = [c for c in df.columns if c.startswith("label_")]
assert len(label) == 1, "export the features with --label H"
features = [c for c in df.columns if c not in ("time", *label)]
x = torch.tensor(df[features].to_numpy(), dtype=torch.float32)
y = torch.tensor((df[label[0]] > 0).to_numpy(), dtype=torch.float32).unsqueeze(1)
cut = int(len(x) * 0.7)
mean, std = x[:cut].mean(0), x[:cut].std(0).clamp_min(1e-12)


class Model(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = nn.Sequential(nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, features):
        return torch.sigmoid(self.net((features - self.mean) / self.std))


torch.manual_seed(0)
model = Model(len(features))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
loss_fn = nn.BCELoss()
for epoch in range(200):
    opt.zero_grad()
    loss = loss_fn(model(x[:cut]), y[:cut])
    loss.backward()
    opt.step()
with torch.no_grad():
    hold = ((model(x[cut:]) > 0.5).float() == y[cut:]).float().mean().item()
print(f"train loss {loss.item():.4f}; held-out accuracy {hold:.3f} on {len(x) - cut} rows")

torch.onnx.export(
    model,
    x[:1],
    dst,
    input_names=["features"],
    output_names=["probability"],
    dynamic_axes={"features": {0: "batch"}, "probability": {0: "batch"}},
    opset_version=13,
)
print(f"wrote {dst}: input features [batch, {len(features)}] ({', '.join(features)})")
