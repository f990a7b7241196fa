from .hrm import (
    ACTConfig,
    HiddenStates,
    HRMACTInner,
    HRMACTModelConfig,
    HRMACTOutput,
    TransformerConfig,
)

__all__ = ["ACTConfig", "HiddenStates", "HRMACTInner", "HRMACTModelConfig", "HRMACTOutput", "TransformerConfig"]
