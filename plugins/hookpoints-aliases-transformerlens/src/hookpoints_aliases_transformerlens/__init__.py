"""TransformerLens hook names (``blocks.0.attn.hook_z``...) on attached Hugging Face models."""

from .tables import ARCHITECTURES, rules_for

__all__ = ["ARCHITECTURES", "rules_for"]
__version__ = "0.1.0"
