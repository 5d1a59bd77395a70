"""The emulators: the sandbox tenant (Graph PIM) and the local Slack workspace.

Production code never imports them; only the entry points in `bot.cli` do.
"""
