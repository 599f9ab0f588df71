"""Target dialects behind one interface (targets.base.Target)."""
