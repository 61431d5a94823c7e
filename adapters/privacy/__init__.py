"""Privacy accounting: the PrivacyAccountant port on dp_accounting's RDP accountant."""

from ffwd.adapters.privacy.rdp import RdpAccountant

__all__ = ["RdpAccountant"]
