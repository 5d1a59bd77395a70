"""Pure domain: durations, commands, roles, policy. No I/O."""
