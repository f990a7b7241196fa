from .act import HRMACT, ACTCarry, ACTOutput
from .hrm import (
    ACTConfig,
    HiddenStates,
    HRMACTInner,
    HRMACTModelConfig,
    HRMACTOutput,
    TransformerConfig,
)

__all__ = ["ACTCarry", "ACTConfig", "ACTOutput", "HRMACT", "HiddenStates", "HRMACTInner", "HRMACTModelConfig",
           "HRMACTOutput", "TransformerConfig"]
