"""Latency of sub-networks on a chip as an additive cost: table.py reads and writes the
table and measurement files, fit.py fits a table to measured sub-networks, measure.py
measures one on this machine with onnxruntime (graphs.py builds the ONNX graphs)."""
