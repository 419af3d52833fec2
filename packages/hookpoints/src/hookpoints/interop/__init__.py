"""Interoperation with other hook libraries (TransformerLens)."""
