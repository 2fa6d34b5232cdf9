"""The VK channel: a VK community's messages (see ``channel`` and docs/VK.md)."""
