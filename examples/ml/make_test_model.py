"""Makes the tiny ONNX models and fixtures the tests use (testdata/models/).

Run from the repository root: `python3 examples/ml/make_test_model.py` (needs `numpy`,
`onnx` and `onnxruntime` from PyPI; tested with onnx 1.23.2, onnxruntime 1.32.0, numpy 2.4.6).

- tiny.onnx: standardisation (the scaler baked into the graph, as exporting a
  scikit-learn/PyTorch pipeline does) then a fixed-seed MLP 6 -> 8 (ReLU) -> 1 (sigmoid):
  input `features` [N, 6] float32, output `probability` [N, 1]; its 6 inputs are the
  features of tiny.features.json.
- tiny_matrix.csv: a fixed-seed 64 x 6 feature matrix; tiny_reference.csv: the model's
  outputs on it from onnxruntime (and checked against a numpy forward pass here).
- bad_*.onnx: models that must be refused with a clear error: corrupt bytes, wrong input
  width, an operator no runtime knows, a 3-wide output.
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = "testdata/models"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261124)


# Typical centre and spread of the six features of tiny.features.json on daily stock bars
# (ret_1, ret_5, rsi_14, vol_20, volz_20, sma_10_over_sma_50).
MEAN = np.array([0.0, 0.0, 50.0, 0.02, 0.0, 1.0], dtype=np.float32)
STD = np.array([0.02, 0.045, 12.0, 0.01, 1.0, 0.05], dtype=np.float32)


def mlp(width, hidden, outputs, op="Sigmoid", domain=""):
    mean = np.resize(MEAN, width).astype(np.float32)
    std = np.resize(STD, width).astype(np.float32)
    w1 = rng.normal(0, 0.5, (width, hidden)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (hidden,)).astype(np.float32)
    w2 = rng.normal(0, 0.5, (hidden, outputs)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (outputs,)).astype(np.float32)
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["o0"]),
        helper.make_node("Add", ["o0", "b2"], ["o1"]),
        helper.make_node(op, ["o1"], ["probability"], domain=domain),
    ]
    graph = helper.make_graph(
        nodes,
        "backtide_tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", outputs])],
        [
            numpy_helper.from_array(a, n)
            for a, n in [(mean, "mean"), (std, "std"), (w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]
        ],
    )
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="backtide-tests")
    model.ir_version = 8
    return model, (mean, std, w1, b1, w2, b2)


model, (mean, std, w1, b1, w2, b2) = mlp(6, 8, 1)
onnx.checker.check_model(model)
onnx.save(model, f"{OUT}/tiny.onnx")

x = (MEAN + STD * rng.normal(0, 1, (64, 6))).astype(np.float32)
np.savetxt(f"{OUT}/tiny_matrix.csv", x, delimiter=",", fmt="%.9g")
session = ort.InferenceSession(f"{OUT}/tiny.onnx", providers=["CPUExecutionProvider"])
y = session.run(None, {"features": x})[0]
h = np.maximum(((x - mean) / std) @ w1 + b1, 0)
y_np = 1 / (1 + np.exp(-(h @ w2 + b2)))
assert np.allclose(y, y_np, atol=1e-6), np.abs(y - y_np).max()
np.savetxt(f"{OUT}/tiny_reference.csv", y, delimiter=",", fmt="%.9g")

with open(f"{OUT}/bad_corrupt.onnx", "wb") as f:
    f.write(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
onnx.save(mlp(4, 8, 1)[0], f"{OUT}/bad_width.onnx")
onnx.save(mlp(6, 8, 1, op="FooBar", domain="com.example")[0], f"{OUT}/bad_operator.onnx")
onnx.save(mlp(6, 8, 3)[0], f"{OUT}/bad_output.onnx")
print("wrote", sorted(os.listdir(OUT)))
