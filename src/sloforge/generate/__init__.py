"""Generators: one module per artifact, each a pure function of the model."""
