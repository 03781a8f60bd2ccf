# Writes a small ONNX model whose output equals its input, but which first
# makes ONNX Runtime allocate H·W·4096 float32 values for an H×W input
# (Shape → ReduceProd → Mul → ConstantOfShape → ReduceSum → Add): 1 MiB at
# its 8×8 test input, so its test passes, and 4 GiB for a 512×512 image.
# A published model whose memory grows with the input: what /v2 and
# inference jobs must survive (security issue #15). Run with Debian's
# python3 (python3-onnx, numpy):  /usr/bin/python3 gen.py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

k = numpy_helper.from_array(np.array([4096], dtype=np.int64), "k")
start = numpy_helper.from_array(np.array([2], dtype=np.int64), "start")
zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
nodes = [
    helper.make_node("Shape", ["x"], ["shape"]),
    helper.make_node("Slice", ["shape", "start", "end"], ["hw"]),
    helper.make_node("ReduceProd", ["hw"], ["n"], keepdims=1),
    helper.make_node("Mul", ["n", "k"], ["count"]),
    helper.make_node("ConstantOfShape", ["count"], ["big"], value=zero),
    helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
    helper.make_node("Add", ["x", "total"], ["y"]),
]
end = numpy_helper.from_array(np.array([4], dtype=np.int64), "end")
graph = helper.make_graph(
    nodes, "sizebomb",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 1, "h", "w"])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 1, "h", "w"])],
    initializer=[k, start, end],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "model.onnx")
x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8) / 64
np.save("input.npy", x)
np.save("output.npy", x)
