"""PySide6 + pyqtgraph front end; adapts and draws what `fiqa_gui.core` computes."""
