"""Export for deployment: .keras, SavedModel, TFLite and ONNX, each reloaded and checked by its runtime.

``exporter`` stages the files, verifies them and writes the model card
(``model_card``); ``formats`` writes and reloads the TensorFlow formats; ``onnx``
converts through tf2onnx (``onnx_text`` adds handlers for text models' string ops).
"""

from .exporter import DEFAULT_FORMATS, FORMATS, export_model

__all__ = ["DEFAULT_FORMATS", "FORMATS", "export_model"]
