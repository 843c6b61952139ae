"""Engine stand-in for st2client (used only when the real package is not installed)."""
ENGINE_STANDIN = True
