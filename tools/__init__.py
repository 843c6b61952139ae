"""Developer tools (never imported by the pack's runtime code in actions/ or sensors/)."""
