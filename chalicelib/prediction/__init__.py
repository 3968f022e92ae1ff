"""Image prediction: ONNX classification and object detection."""
