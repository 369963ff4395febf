"""Checks an exported ONNX model with the real clients (called by tests/export.rs).

usage: onnx_check.py MODEL.onnx IMAGES.f32 PROBS.f32 COUNT CLASSES

IMAGES.f32 holds COUNT images of 1x28x28 float32 (little-endian), PROBS.f32 our
probabilities for them (COUNT x CLASSES). Prints one JSON line with what was found and exits
non-zero when the checker fails or a probability differs from ours by more than 1e-5.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

path, images_path, probs_path, count, classes = sys.argv[1:6]
count, classes = int(count), int(classes)

model = onnx.load(path)
onnx.checker.check_model(model, full_check=True)

images = np.fromfile(images_path, dtype="<f4").reshape(count, 1, 28, 28)
ours = np.fromfile(probs_path, dtype="<f4").reshape(count, classes)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
inputs = [(i.name, i.shape) for i in session.get_inputs()]
outputs = [o.name for o in session.get_outputs()]
# Two batch sizes through the dynamic batch dimension: all at once, and one image.
logits, probs = session.run(["logits", "probabilities"], {"image": images})
single = session.run(["probabilities"], {"image": images[:1]})[0]
diff = float(np.abs(probs - ours).max())
report = {
    "ir_version": model.ir_version,
    "opset": [(o.domain, o.version) for o in model.opset_import],
    "ops": [n.op_type for n in model.graph.node],
    "inputs": inputs,
    "outputs": outputs,
    "metadata": {p.key: p.value for p in model.metadata_props},
    "images": count,
    "max_abs_diff": diff,
    "single_image_diff": float(np.abs(single - ours[:1]).max()),
    "argmax_agree": int((probs.argmax(1) == ours.argmax(1)).sum()),
    "checker": "passed (full_check)",
}
print(json.dumps(report))
sys.exit(0 if diff <= 1e-5 and report["single_image_diff"] <= 1e-5 else 1)
