"""pimbot: Slack chat-ops for Microsoft Entra PIM."""

__version__ = "0.1.0"
