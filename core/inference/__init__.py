"""From a model file to ranked cities: the engines (PyTorch `prediction`, ONNX Runtime `onnx_engine`, chosen by
`engines.load_predictor`), the shared result types and preprocessing, and what explains a guess (heat maps,
the shortcut check). The torch-free modules here (`base`, `results`, `preprocessing`, `onnx_engine`,
`heatmaps`) keep the ONNX path free of torch.
"""
